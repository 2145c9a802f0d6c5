package io.livemigrate.agent.libvirt;

import com.sun.jna.Pointer;
import com.sun.jna.PointerType;
import io.livemigrate.agent.HypervisorException;
import java.lang.ref.Reference;
import java.lang.reflect.Field;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Function;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's libvirt as every part of the driver reaches it: the connection their calls share,
 * further connections (a migration holds one for its whole transfer; the destination's are opened
 * for its disks and figures), and the native pointers the JNA calls take.
 */
final class Libvirt {
  private static final Logger LOG = LoggerFactory.getLogger(Libvirt.class);

  private static final Field DOMAIN_POINTER;
  private static final Field CONNECT_POINTER;

  /** Held here: libvirt-java does not keep it, and JNA frees a collected callback's stub. */
  private static final org.libvirt.jna.Libvirt.VirErrorCallback QUIET = (userData, error) -> {};

  static {
    try {
      // libvirt-java keeps the native virDomainPtr package-private; the JNA calls need it.
      DOMAIN_POINTER = org.libvirt.Domain.class.getDeclaredField("vdp");
      DOMAIN_POINTER.setAccessible(true);
      CONNECT_POINTER = Connect.class.getDeclaredField("vcp");
      CONNECT_POINTER.setAccessible(true);
      // libvirt's default error handler prints every failed call to stderr, including the
      // expected "domain not found" when polling races the end of a job.
      Connect.setErrorCallback(QUIET);
      // Events (a job's completed statistics) need libvirt's event loop registered before any
      // connection opens, and a thread that runs it.
      org.libvirt.Library.initEventLoop();
      Thread loop =
          new Thread(
              () -> {
                try {
                  org.libvirt.Library.runEventLoop();
                } catch (LibvirtException | InterruptedException e) {
                  LOG.warn("libvirt event loop ended: {}", e.toString());
                }
              },
              "libvirt-events");
      loop.setDaemon(true);
      loop.start();
    } catch (ReflectiveOperationException | LibvirtException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** This compute host's name. */
  final String host;

  /** The local libvirt URI. */
  final String uri;

  /**
   * The connection shared by every call that does not hold one of its own; replaced by {@link
   * #conn()} once libvirt closed it (libvirtd restarted, the host's link was cut).
   */
  private volatile Connect conn;

  private final Function<String, String> destinationUri;

  /** Run after a reconnect with the new connection (event registrations). */
  private final List<Consumer<Connect>> onReconnect = new CopyOnWriteArrayList<>();

  private long lastAttemptNs;

  /**
   * @throws HypervisorException HYPERVISOR_ERROR if libvirt cannot be reached
   */
  Libvirt(String host, String uri, Function<String, String> destinationUri)
      throws HypervisorException {
    this.host = host;
    this.uri = uri;
    this.destinationUri = destinationUri;
    this.conn = open(uri);
  }

  /**
   * The shared connection, opened again first if libvirt closed it: a daemon restarted under a
   * running agent, or keepalive gave up on a cut link. One attempt every 2 s at most; while none
   * succeeds the dead connection is returned and calls fail with libvirt's error, as before.
   */
  Connect conn() {
    Connect c = conn;
    if (alive(c)) return c;
    synchronized (this) {
      if (conn != c) return conn;
      long now = System.nanoTime();
      if (now - lastAttemptNs < 2_000_000_000L) return c;
      lastAttemptNs = now;
      Connect fresh;
      try {
        fresh = open(uri);
      } catch (HypervisorException e) {
        LOG.warn(
            "[host {}] libvirt connection lost; reconnecting failed: {}", host, e.getMessage());
        return c;
      }
      conn = fresh;
      LOG.warn("[host {}] libvirt connection lost; reconnected to {}", host, uri);
      for (Consumer<Connect> r : onReconnect) r.accept(fresh);
      try {
        c.close();
      } catch (LibvirtException e) {
        LOG.debug("[host {}] closing the lost connection: {}", host, e.getMessage());
      }
      return fresh;
    }
  }

  private static boolean alive(Connect c) {
    try {
      return c.isAlive();
    } catch (LibvirtException e) {
      return false;
    }
  }

  /** Calls {@code r} with every new connection {@link #conn()} opens. */
  void onReconnect(Consumer<Connect> r) {
    onReconnect.add(r);
  }

  /** The libvirt URI a migration to {@code otherHost} goes to (and its libvirt answers at). */
  String uriOf(String otherHost) {
    return destinationUri.apply(otherHost);
  }

  static Connect open(String uri) throws HypervisorException {
    try {
      return new Connect(uri);
    } catch (LibvirtException e) {
      throw new HypervisorException(
          "HYPERVISOR_ERROR", "cannot connect to " + uri + ": " + e.getMessage(), e);
    }
  }

  /**
   * @throws HypervisorException NOT_FOUND if {@code c}'s libvirt has no such domain
   */
  org.libvirt.Domain lookup(Connect c, String uuid) throws HypervisorException {
    try {
      return c.domainLookupByUUIDString(uuid);
    } catch (LibvirtException e) {
      throw new HypervisorException("NOT_FOUND", "no domain " + uuid + " on " + host, e);
    }
  }

  /** For SPI calls that cannot throw a checked exception. */
  IllegalStateException unreachable(LibvirtException e) {
    return new IllegalStateException("libvirt at " + uri + ": " + e.getMessage(), e);
  }

  long version() {
    try {
      return conn().getVersion();
    } catch (LibvirtException e) {
      throw unreachable(e);
    }
  }

  static HypervisorException error(String what, LibvirtException e) {
    return new HypervisorException("HYPERVISOR_ERROR", what + ": " + e.getMessage(), e);
  }

  /** A failed JNA call (negative return) as HYPERVISOR_ERROR with libvirt's message. */
  static void check(int rc, String what) throws HypervisorException {
    if (rc < 0) {
      throw new HypervisorException(
          "HYPERVISOR_ERROR", what + ": " + VirtNative.LIB.virGetLastErrorMessage());
    }
  }

  Pointer connPtr() {
    return connPtr(conn());
  }

  static Pointer connPtr(Connect c) {
    try {
      return ((PointerType) CONNECT_POINTER.get(c)).getPointer();
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Calls {@code f} with {@code d}'s native pointer while keeping {@code d} reachable. libvirt-java
   * frees a domain in its finalizer: once the pointer is read, nothing else holds {@code d}, and a
   * GC during a long call (a migration holds one for minutes) would free the virDomainPtr under
   * libvirt's feet (glibc then aborts the JVM).
   */
  static <T> T withPtr(org.libvirt.Domain d, Function<Pointer, T> f) {
    try {
      return f.apply(((PointerType) DOMAIN_POINTER.get(d)).getPointer());
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    } finally {
      Reference.reachabilityFence(d);
    }
  }

  void close() {
    try {
      conn.close();
    } catch (LibvirtException e) {
      LOG.warn("[host {}] closing {}: {}", host, uri, e.getMessage());
    }
  }

  /** A connection closed with try-with-resources. */
  record Closing(Connect conn) implements AutoCloseable {
    static Closing to(String uri) throws HypervisorException {
      return new Closing(open(uri));
    }

    @Override
    public void close() {
      try {
        conn.close();
      } catch (LibvirtException e) {
        LOG.debug("closing a libvirt connection: {}", e.getMessage());
      }
    }
  }
}
