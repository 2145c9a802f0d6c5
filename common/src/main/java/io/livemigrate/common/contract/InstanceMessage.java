package io.livemigrate.common.contract;

/** A message about one instance; lets handlers log and route it without knowing its type. */
public interface InstanceMessage extends Message {
  String instanceUuid();
}
