package io.livemigrate.agent.libvirt;

import java.util.LinkedHashMap;
import java.util.Map;
import org.libvirt.DomainJobStats;
import org.libvirt.TypedParameter;

/** A domain's job statistics as numbers by libvirt's field names, with the job type as "type". */
final class JobValues {
  /** VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT. */
  static final long OPERATION_MIGRATION_OUT = 5;

  /** Job type VIR_DOMAIN_JOB_NONE and VIR_DOMAIN_JOB_CANCELLED. */
  static final int JOB_NONE = 0;

  static final long JOB_CANCELLED = 5;

  private JobValues() {}

  /** Empty when no job runs (or ran, for completed statistics). */
  static Map<String, Long> of(DomainJobStats s) {
    Map<String, Long> m = new LinkedHashMap<>();
    if (s == null || s.type == JOB_NONE || s.stats == null) return m;
    for (TypedParameter p : s.stats) {
      try {
        m.put(p.field, (long) Double.parseDouble(p.getValueAsString()));
      } catch (NumberFormatException e) {
        // strings (none today) carry nothing we report
      }
    }
    m.put("type", (long) s.type);
    return m;
  }
}
