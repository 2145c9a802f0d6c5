package io.livemigrate.agent.libvirt;

import com.sun.jna.Pointer;
import io.livemigrate.agent.HypervisorException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What CPU this host's hypervisor offers guests, in the form {@link
 * io.livemigrate.agent.Hypervisor#cpuModel()} documents: the domain capabilities' host-model CPU,
 * its features expanded (virConnectBaselineHypervisorCPU with EXPAND_FEATURES, so the model's own
 * features are listed too), and the named models it reports usable.
 */
final class HostCpu {
  private static final Pattern HOST_MODEL =
      Pattern.compile("<mode name='host-model' supported='yes'>(.*?)</mode>", Pattern.DOTALL);
  private static final Pattern CUSTOM =
      Pattern.compile("<mode name='custom' supported='yes'>(.*?)</mode>", Pattern.DOTALL);
  private static final Pattern MODEL = Pattern.compile("<model\\b[^>]*>([^<]+)</model>");
  private static final Pattern VENDOR = Pattern.compile("<vendor>([^<]+)</vendor>");
  private static final Pattern FEATURE =
      Pattern.compile(
          "<feature\\b[^>]*\\bpolicy='(\\w+)'[^>]*\\bname='([^']+)'|<feature\\b[^>]*\\bname='([^']+)'"
              + "[^>]*\\bpolicy='(\\w+)'");
  private static final Pattern USABLE = Pattern.compile("<model usable='yes'[^>]*>([^<]+)</model>");

  private HostCpu() {}

  static String describe(Pointer conn, String virtType) throws HypervisorException {
    Pointer p = VirtNative.LIB.virConnectGetDomainCapabilities(conn, null, null, null, virtType, 0);
    if (p == null) {
      throw new HypervisorException(
          "HYPERVISOR_ERROR", "domain capabilities: " + VirtNative.LIB.virGetLastErrorMessage());
    }
    String caps = take(p);
    Matcher hm = HOST_MODEL.matcher(caps);
    if (!hm.find()) {
      throw new HypervisorException("HYPERVISOR_ERROR", "no host-model CPU for " + virtType);
    }
    String section = hm.group(1);
    Matcher model = MODEL.matcher(section);
    if (!model.find()) throw new HypervisorException("HYPERVISOR_ERROR", "host-model has no model");
    Set<String> required = new LinkedHashSet<>();
    Set<String> disabled = new LinkedHashSet<>();
    Matcher f = FEATURE.matcher(section);
    while (f.find()) {
      String policy = f.group(1) != null ? f.group(1) : f.group(4);
      String name = f.group(2) != null ? f.group(2) : f.group(3);
      if ("disable".equals(policy) || "forbid".equals(policy)) disabled.add(name);
      else required.add(name);
    }
    StringBuilder in = new StringBuilder("<cpu><arch>x86_64</arch><model>");
    in.append(model.group(1).trim()).append("</model>");
    Matcher v = VENDOR.matcher(section);
    if (v.find()) in.append("<vendor>").append(v.group(1)).append("</vendor>");
    for (String r : required) in.append("<feature name='").append(r).append("'/>");
    in.append("</cpu>");
    Pointer b =
        VirtNative.LIB.virConnectBaselineHypervisorCPU(
            conn,
            null,
            null,
            null,
            virtType,
            new String[] {in.toString()},
            1,
            VirtNative.BASELINE_CPU_EXPAND_FEATURES);
    Set<String> features = new TreeSet<>(required);
    if (b != null) {
      Matcher e = FEATURE.matcher(take(b));
      while (e.find()) {
        String policy = e.group(1) != null ? e.group(1) : e.group(4);
        String name = e.group(2) != null ? e.group(2) : e.group(3);
        if (!"disable".equals(policy) && !"forbid".equals(policy)) features.add(name);
      }
    }
    features.removeAll(disabled);
    List<String> usable = new ArrayList<>();
    Matcher cm = CUSTOM.matcher(caps);
    if (cm.find()) {
      Matcher u = USABLE.matcher(cm.group(1));
      while (u.find()) usable.add(u.group(1).trim());
    }
    return "model="
        + model.group(1).trim()
        + " features="
        + String.join(",", features)
        + " usable="
        + String.join(",", usable);
  }

  private static String take(Pointer p) {
    try {
      return p.getString(0);
    } finally {
      VirtNative.LibC.LIB.free(p);
    }
  }
}
