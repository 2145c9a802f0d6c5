package io.livemigrate.agent.libvirt;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the checks before the first byte read from a domain's XML. */
final class GuestXml {
  private static final Pattern CPU =
      Pattern.compile("<cpu\\b[^>]*/>|<cpu\\b[^>]*>.*?</cpu>", Pattern.DOTALL);
  private static final Pattern MACHINE =
      Pattern.compile("<type\\b[^>]*\\bmachine=['\"]([^'\"]+)['\"]");
  private static final Pattern MODE = Pattern.compile("<cpu\\b[^>]*\\bmode=['\"]([^'\"]+)['\"]");
  private static final Pattern MODEL = Pattern.compile("<model\\b[^>]*>([^<]+)</model>");
  private static final Pattern REQUIRED =
      Pattern.compile(
          "<feature\\b[^>]*\\bpolicy=['\"](?:require|force)['\"][^>]*\\bname=['\"]([^'\"]+)['\"]");

  private GuestXml() {}

  /** The domain's {@code <cpu>} element; null when it has none (the hypervisor's default CPU). */
  static String cpu(String domainXml) {
    Matcher m = CPU.matcher(domainXml);
    return m.find() ? m.group() : null;
  }

  /** The machine type of the domain's {@code <os><type>}; null when absent. */
  static String machine(String domainXml) {
    Matcher m = MACHINE.matcher(domainXml);
    return m.find() ? m.group(1) : null;
  }

  /** A short form of a {@code <cpu>} element for messages: mode, model and required features. */
  static String cpuSummary(String cpuXml) {
    Matcher mode = MODE.matcher(cpuXml);
    Matcher model = MODEL.matcher(cpuXml);
    List<String> req = new ArrayList<>();
    Matcher f = REQUIRED.matcher(cpuXml);
    while (f.find()) req.add(f.group(1));
    StringBuilder b = new StringBuilder();
    b.append(mode.find() ? mode.group(1) : "custom");
    if (model.find()) b.append(' ').append(model.group(1).trim());
    if (!req.isEmpty()) {
      b.append(" requiring ");
      b.append(String.join(",", req.size() > 8 ? req.subList(0, 8) : req));
      if (req.size() > 8) b.append(",...");
    }
    return b.toString();
  }
}
