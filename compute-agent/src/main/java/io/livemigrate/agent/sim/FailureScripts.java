package io.livemigrate.agent.sim;

import io.livemigrate.agent.HypervisorException;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;

/**
 * The failures scripted on a {@link SimulatedHypervisor}: per {@link FailurePoint}, a message by
 * uuid, where {@link SimulatedHypervisor#ANY} matches every uuid. A script stays in force until
 * {@link #clear()}; a new one for the same point and uuid replaces its message.
 *
 * <p>Not thread-safe: the hypervisor's lock guards it.
 */
final class FailureScripts {

  private final Map<FailurePoint, Map<String, String>> scripts = new EnumMap<>(FailurePoint.class);

  /** Makes {@code point} fail for {@code uuid}; a null {@code message} gets a default one. */
  void add(FailurePoint point, String uuid, String message) {
    String text = message == null ? "scripted failure at " + point : message;
    scripts.computeIfAbsent(point, p -> new HashMap<>()).put(uuid, text);
  }

  void clear() {
    scripts.clear();
  }

  /** The message scripted at {@code point} for {@code uuid} (exact before {@code ANY}), or null. */
  String message(FailurePoint point, String uuid) {
    Map<String, String> byUuid = scripts.get(point);
    if (byUuid == null) {
      return null;
    }
    String exact = byUuid.get(uuid);
    return exact != null ? exact : byUuid.get(SimulatedHypervisor.ANY);
  }

  /**
   * Throws what is scripted at {@code point} for {@code uuid}, if anything.
   *
   * @throws HypervisorException with {@code code} and the scripted message
   */
  void check(FailurePoint point, String uuid, String code) throws HypervisorException {
    String failure = message(point, uuid);
    if (failure != null) {
      throw new HypervisorException(code, failure);
    }
  }
}
