package io.livemigrate.common.bus;

import io.livemigrate.common.contract.AgentEvents.HostReport;
import io.livemigrate.common.contract.AgentEvents.ServiceHeartbeat;
import io.livemigrate.common.contract.Envelope;
import io.livemigrate.common.contract.Sender;
import java.util.Optional;

/**
 * Who may send what on the bus: the broker user names of a deployment and whether receivers check
 * them.
 *
 * <p>Each service logs in under its own broker user: {@code <prefix>conductor}, {@code
 * <prefix>scheduler} and {@code <prefix>compute-<host>}. Every publish carries the AMQP {@code
 * user_id} property set to the login, which RabbitMQ (and the embedded broker) refuse to route when
 * it differs from the connection's user, so {@link Envelope#userId()} on a received message is the
 * sender's verified identity. {@code Envelope.sender} is only what the sender claims.
 *
 * <p>When {@link #verifying()} is false (every service shares one login, as in development with
 * {@code guest}) every check here answers "allowed": identities cannot be told apart, so checking
 * them would only refuse everything.
 */
public final class Identities {
  public static final String CONDUCTOR = "conductor";
  public static final String SCHEDULER = "scheduler";
  public static final String COMPUTE = "compute-";

  private final String prefix;
  private final boolean verifying;

  private Identities(String prefix, boolean verifying) {
    this.prefix = prefix == null ? "" : prefix;
    this.verifying = verifying;
  }

  public static Identities of(String prefix, boolean verifying) {
    return new Identities(prefix, verifying);
  }

  /**
   * The identities a service uses, with verification decided by {@code mode}: {@code true}, {@code
   * false}, or {@code auto} = on exactly when the service logs in as its own identity ({@code
   * login} equals {@link #of(Sender)} of {@code self}). Auto is what an operator expects: creating
   * per-service users turns the checks on; the shared {@code guest} of a development setup leaves
   * them off.
   */
  public static Identities resolve(String mode, String prefix, String login, Sender self) {
    Identities plain = new Identities(prefix, false);
    boolean on =
        switch (mode == null ? "auto" : mode) {
          case "true" -> true;
          case "false" -> false;
          default -> login != null && login.equals(plain.of(self));
        };
    return new Identities(prefix, on);
  }

  /** Whether receivers check identities (see the class comment). */
  public boolean verifying() {
    return verifying;
  }

  public String prefix() {
    return prefix;
  }

  public String conductor() {
    return prefix + CONDUCTOR;
  }

  public String scheduler() {
    return prefix + SCHEDULER;
  }

  public String compute(String host) {
    return prefix + COMPUTE + host;
  }

  /** The identity a service logs in as: by its kind ({@code compute} = per host). */
  public String of(Sender s) {
    return switch (s.service()) {
      case "conductor" -> conductor();
      case "scheduler" -> scheduler();
      case "compute" -> compute(s.host());
      default -> prefix + s.service();
    };
  }

  /** The compute host whose identity {@code userId} is, if it is one. */
  public Optional<String> hostOf(String userId) {
    String p = prefix + COMPUTE;
    if (userId == null || !userId.startsWith(p) || userId.length() == p.length()) {
      return Optional.empty();
    }
    return Optional.of(userId.substring(p.length()));
  }

  /** Whether {@code env} was sent by {@code identity} (always true when not verifying). */
  public boolean sentBy(Envelope env, String identity) {
    return !verifying || identity.equals(env.userId());
  }

  public boolean sentByConductor(Envelope env) {
    return sentBy(env, conductor());
  }

  public boolean sentByScheduler(Envelope env) {
    return sentBy(env, scheduler());
  }

  /** Whether {@code env} was sent by the compute agent of {@code host}. */
  public boolean sentByCompute(Envelope env, String host) {
    return host != null && sentBy(env, compute(host));
  }

  /**
   * Why {@code env} is not from one of this deployment's identities, or whose claimed {@code
   * sender} disagrees with its verified one; null when it is fine (or when not verifying).
   */
  public String refuseStranger(Envelope env) {
    if (!verifying) return null;
    String u = env.userId();
    if (u == null || u.isEmpty()) return "no user_id: the sender's identity is unknown";
    Sender s = env.sender();
    if (u.equals(conductor()) || u.equals(scheduler())) {
      String service = u.substring(prefix.length());
      return service.equals(s.service())
          ? null
          : "user_id " + u + " claims to be sender " + s.service() + "@" + s.host();
    }
    Optional<String> host = hostOf(u);
    if (host.isPresent()) {
      return "compute".equals(s.service()) && host.get().equals(s.host())
          ? null
          : "user_id " + u + " claims to be sender " + s.service() + "@" + s.host();
    }
    return "user_id " + u + " is not an identity of this deployment";
  }

  /** A check that admits only messages sent by one of {@code identities}. */
  public SenderCheck onlyFrom(String... identities) {
    String allowed = String.join(", ", identities);
    return (env, body) -> {
      if (!verifying) return null;
      for (String i : identities) {
        if (i.equals(env.userId())) return refuseStranger(env);
      }
      return (env.userId() == null ? "no user_id" : "user_id " + env.userId())
          + " may not send "
          + env.type()
          + " here (only "
          + allowed
          + ")";
    };
  }

  /**
   * A check that admits heartbeats and host reports only from the compute host they are about;
   * everything else passes.
   */
  public SenderCheck ownHostReports() {
    return (env, body) -> {
      if (!verifying) return null;
      String host = null;
      if (body instanceof HostReport r) host = r.host();
      else if (body instanceof ServiceHeartbeat hb) host = hb.host();
      if (host == null || sentByCompute(env, host)) return null;
      return (env.userId() == null ? "no user_id" : "user_id " + env.userId())
          + " may not send "
          + env.type()
          + " for host "
          + host
          + " (only "
          + compute(host)
          + ")";
    };
  }

  /** A check that admits any identity of this deployment whose claimed sender matches it. */
  public SenderCheck members() {
    return (env, body) -> refuseStranger(env);
  }

  @Override
  public String toString() {
    return "identities(prefix='" + prefix + "', verifying=" + verifying + ")";
  }
}
