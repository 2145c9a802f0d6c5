package io.livemigrate.common.bus;

import io.vertx.rabbitmq.QueueOptions;
import java.util.List;

/** One queue a bus consumes, and who may send to it. */
final class Subscription {
  final String queue;
  final List<String> eventKeys;
  final SenderCheck check;
  final MessageHandler handler;

  /** The unroutable queue: everything on it is parked, nothing is handled. */
  final boolean unroutable;

  final QueueOptions options;

  /** The consumer tag of the current generation: deliveries with another one are stale. */
  volatile String tag;

  Subscription(
      String queue,
      List<String> eventKeys,
      SenderCheck check,
      MessageHandler handler,
      boolean unroutable,
      QueueOptions options) {
    this.queue = queue;
    this.eventKeys = eventKeys;
    this.check = check;
    this.handler = handler;
    this.unroutable = unroutable;
    this.options = options;
    this.tag = options.getConsumerTag();
  }

  void retag(String t) {
    options.setConsumerTag(t);
    tag = t;
  }
}
