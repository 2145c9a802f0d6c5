package io.livemigrate.common.bus;

import io.vertx.rabbitmq.RabbitMQMessage;

/** One delivery and the channel it came on. */
record Delivery(Subscription sub, RabbitMQMessage msg, long channel) {
  long tag() {
    return msg.envelope().getDeliveryTag();
  }
}
