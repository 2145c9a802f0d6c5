package io.livemigrate.conductor.api.keystone;

import io.livemigrate.conductor.api.Auth;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Validated tokens by SHA-256 (the token itself is never kept), each trusted until a deadline;
 * bounded, the least recently used entry goes first. Thread-safe.
 */
final class TokenCache {
  private record Entry(Auth.Identity identity, long validUntilMs) {}

  private final int maxSize;
  private final LinkedHashMap<String, Entry> entries;

  TokenCache(int maxSize) {
    this.maxSize = maxSize;
    this.entries =
        new LinkedHashMap<>(16, 0.75f, true) {
          private static final long serialVersionUID = 1L;

          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
            return size() > TokenCache.this.maxSize;
          }
        };
  }

  /** The identity cached for this hash, or null when absent or past its deadline. */
  synchronized Auth.Identity get(String hash, long nowMs) {
    Entry e = entries.get(hash);
    if (e == null) return null;
    if (nowMs >= e.validUntilMs()) {
      entries.remove(hash);
      return null;
    }
    return e.identity();
  }

  synchronized void put(String hash, Auth.Identity identity, long validUntilMs) {
    entries.put(hash, new Entry(identity, validUntilMs));
  }

  synchronized int size() {
    return entries.size();
  }
}
