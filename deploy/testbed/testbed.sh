#!/usr/bin/env bash
# Two libvirt compute hosts on one machine, for the libvirt integration tests.
#
#   root netns: bridge br-lmtb 10.77.88.1/24 (the agents connect from here)
#   netns lm-hostb: eth0 10.77.88.2/24, libvirtd on qemu+tcp://10.77.88.2/system
#   netns lm-hostc: eth0 10.77.88.3/24, libvirtd on qemu+tcp://10.77.88.3/system
#
# Each libvirtd runs in its own network, mount and UTS namespace with private /etc/libvirt,
# /run/libvirt, /var/lib/libvirt (so /var/lib/libvirt/images is host-local storage, as a block
# migration needs) and /var/log/libvirt, all kept under $LM_TESTBED_DIR/hosts/<host>.
#
# Subcommands (all idempotent):
#   install            apt packages that are missing, the guest kernel and initramfs
#   up                 bridge, namespaces, both daemons, a dir storage pool on each host
#   guest NAME [--host H] [--rate MIBS] [--ws MIB] [--disk MIB] [--shared] [--nova] [--cpu-require F]
#                      removes every domain of the testbed, then defines and boots NAME on H
#                      (default hostb) and waits for its first heartbeat; --disk gives it a local
#                      qcow2 disk of that size (non-zero data) for block migration, with --shared
#                      on the storage both hosts see instead; --nova writes Nova's
#                      <nova:instance> owner metadata instead of livemigrate's; --cpu-require
#                      gives it a <cpu> (qemu64) that requires CPU feature F
#   tls-certs          makes a CA and per-host certificates (server and client, for the hosts'
#                      addresses) for QEMU's native TLS migration; qemu.conf points at them
#   rate MIBS [NAME]   sets the running guest's dirtying rate (MiB/s) through its serial console
#   where NAME         prints the hosts NAME runs on (one per line)
#   ticks NAME HOST    prints the last heartbeat number NAME printed on HOST (empty if none)
#   uri HOST           prints HOST's libvirt URI
#   restart-libvirtd HOST  stops HOST's libvirtd (SIGTERM) and starts it again; guests run on
#   link HOST up|down  takes HOST's network link down or up (cuts it off from everything)
#   logs DIR           copies the guests' serial logs and the daemons' logs to DIR
#   down               removes domains, daemons, QEMUs, namespaces, links and host state
#   purge              down, then also the downloaded guest kernel
#
# The hosts differ like two CPU generations: hostc's QEMU cannot offer the features in
# $LM_TESTBED_HOSTC_CPU_OFF (default avx2) to a guest (a wrapper turns them off in its 'max' CPU,
# which is what libvirt reports as the host-model CPU under TCG). Both hosts see $STATE/shared at
# /var/lib/libvirt/shared (pool 'shared'): storage for migrations without copying disks.
#
# Network safety: 10.77.88.0/24 exists only on the links this script creates, the namespaces
# have no default route, and nothing is sent to a host address unless the route goes via br-lmtb.
set -euo pipefail

STATE=${LM_TESTBED_DIR:-/var/tmp/livemigrate-testbed}
BR=br-lmtb
NET=10.77.88
HOSTS=(hostb hostc)
KERNEL_PKG=${LM_TESTBED_KERNEL_PKG:-linux-image-6.1.0-*-amd64}

log() { echo "testbed: $*" >&2; }
die() { echo "testbed: $*" >&2; exit 1; }

host_ip() {
  case "$1" in hostb) echo "$NET.2" ;; hostc) echo "$NET.3" ;; *) die "unknown host $1" ;; esac
}
host_uuid() {
  # Must differ per host: libvirt refuses to migrate "to the same host" otherwise.
  case "$1" in hostb) echo 5b1e0000-0000-4000-8000-00000000000b ;; hostc) echo 5b1e0000-0000-4000-8000-00000000000c ;; esac
}
ns() { echo "lm-$1"; }
hdir() { echo "$STATE/hosts/$1"; }
# Local control goes over the host's unix socket: no network needed.
lvirsh() { local h=$1; shift; virsh -q -c "qemu:///system?socket=$(hdir "$h")/run/libvirt-sock" "$@"; }
uri() { echo "qemu+tcp://$(host_ip "$1")/system"; }

domain_type() {
  # KVM only where the CPU has hardware virtualisation. Some sandboxes expose a /dev/kvm that is
  # paravirtual (PVM) and hangs stock guests, while libvirt still advertises kvm.
  if [ -n "${LM_TESTBED_DOMAIN_TYPE:-}" ]; then echo "$LM_TESTBED_DOMAIN_TYPE"; return; fi
  if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then echo kvm; else echo qemu; fi
}

cmd_install() {
  local need=() pkg
  install_newer_qemu
  # busybox-static, not busybox: the guest's initramfs has no libc.
  for pkg in libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 \
      qemu-utils busybox-static iproute2 cpio; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
      --no-install-recommends "${need[@]}"
  fi
  mkdir -p "$STATE/guest"
  if [ ! -s "$STATE/guest/vmlinuz" ]; then
    # The guest kernel is downloaded, not installed: the machine's own kernel stays untouched.
    local tmp
    tmp=$(mktemp -d)
    pkg=$(apt-cache pkgnames linux-image-6 | grep -E "^${KERNEL_PKG//\*/[0-9]+}$" | sort -V | tail -1)
    [ -n "$pkg" ] || { apt-get update -q; pkg=$(apt-cache pkgnames linux-image-6 | grep -E "^${KERNEL_PKG//\*/[0-9]+}$" | sort -V | tail -1); }
    [ -n "$pkg" ] || die "no $KERNEL_PKG package found"
    log "downloading guest kernel $pkg"
    (cd "$tmp" && apt-get download -q "$pkg" >/dev/null && dpkg -x ./*.deb x)
    cp "$tmp"/x/boot/vmlinuz-* "$STATE/guest/vmlinuz.tmp"
    mv "$STATE/guest/vmlinuz.tmp" "$STATE/guest/vmlinuz"
    rm -rf "$tmp"
  fi
  build_initrd
}

install_newer_qemu() {
  # Under TCG, QEMU 7.2 (Debian 12) intermittently corrupts a guest's memory in migrations that
  # run several iterations (auto-converge, pause, post-copy): the guest oopses on the destination
  # (NULL instruction fetch in the idle loop). QEMU 10 from bookworm-backports does not, so on
  # Debian 12 the testbed takes QEMU (only QEMU: libvirt stays Debian 12's) from there.
  # LM_TESTBED_DISTRO_QEMU=1 keeps the distribution's QEMU.
  [ -z "${LM_TESTBED_DISTRO_QEMU:-}" ] || return 0
  local codename v
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  [ "$codename" = bookworm ] || return 0
  v=$(dpkg-query -W -f '${Version}' qemu-system-x86 2>/dev/null || true)
  if [ -n "$v" ] && dpkg --compare-versions "$v" ge 1:9; then return 0; fi
  log "installing QEMU from bookworm-backports (installed: ${v:-none})"
  local list=/etc/apt/sources.list.d/livemigrate-testbed-backports.list
  if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' >"$list"
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
    --no-install-recommends -t bookworm-backports qemu-system-x86 qemu-utils
}

build_initrd() {
  local root
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,proc,sys,dev,mnt,run}
  cp /bin/busybox "$root/bin/busybox"
  cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
arg() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" /proc/cmdline; }
rate=$(arg dirty_rate); ws=$(arg dirty_ws)
[ -n "$rate" ] || rate=8
[ -n "$ws" ] || ws=64
echo "$rate" > /run/rate
mount -t tmpfs -o size=$((ws + 4))m tmpfs /mnt
# Non-zero data: QEMU sends zero pages almost for free, so zeros would not load a migration.
yes livemigrate-dirty-page | head -c $((ws * 1048576)) > /mnt/ws
# "rate N" on the serial console changes the dirtying rate while the guest runs.
( while read -r c a; do [ "$c" = rate ] && echo "$a" > /run/rate && echo "lm-guest: rate now $a"; done ) < /dev/ttyS0 &
n=0; off=0
while true; do
  n=$((n + 1)); r=$(cat /run/rate)
  if [ "$r" -gt 0 ]; then
    [ $((off + r)) -gt "$ws" ] && off=0
    # Rewrites r MiB of the working set in place (same non-zero bytes, but every page dirtied).
    dd if=/mnt/ws of=/mnt/ws bs=1048576 count="$r" skip=$(( (off + r) % ws )) seek="$off" conv=notrunc 2>/dev/null
    off=$((off + r))
  fi
  echo "lm-guest: tick=$n rate=$r uptime=$(cut -d' ' -f1 /proc/uptime)" > /dev/ttyS0
  sleep 1
done
EOF
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$STATE/guest/initrd.gz.tmp"
  mv "$STATE/guest/initrd.gz.tmp" "$STATE/guest/initrd.gz"
  rm -rf "$root"
}

daemon_alive() {
  local p
  p=$(cat "$(hdir "$1")/libvirtd.pid" 2>/dev/null) || return 1
  kill -0 "$p" 2>/dev/null && lvirsh "$1" version >/dev/null 2>&1
}

check_route() {
  # Refuse to talk to a host address unless it goes over our bridge, never to the uplink.
  ip route get "$(host_ip "$1")" | grep -q " dev $BR " || die "route to $(host_ip "$1") is not via $BR"
}

# Starts HOST's libvirtd in its namespaces (the network namespace must exist).
start_daemon() {
  local h=$1 d wrap=
  d=$(hdir "$h")
  if [ -x "$d/qemu-wrapper" ]; then
    wrap="mount --bind /usr/bin/qemu-system-x86_64 '$d/qemu-real'
      mount --bind '$d/qemu-wrapper' /usr/bin/qemu-system-x86_64"
  fi
  # ip netns exec and unshare both exec(), so $! is libvirtd itself. A private tmpfs on /run
  # gives /run/libvirt a mount point without touching the root namespace.
  # Descriptors above 2 are closed first: a caller's `flock /tmp/lm-testbed.lock ...` lock fd
  # would otherwise live on in the daemons and hold the lock until `down`.
  (
  for fd in $(ls "/proc/$BASHPID/fd"); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
  exec ip netns exec "$(ns "$h")" unshare --mount --uts --propagation private -- /bin/sh -c "
    hostname $h
    mount -t tmpfs -o mode=755 lm-run /run
    mkdir -p /run/libvirt /run/lock
    mount --bind '$d/etc' /etc/libvirt
    mount --bind '$d/run' /run/libvirt
    mount --bind '$d/lib' /var/lib/libvirt
    mount --bind '$d/log' /var/log/libvirt
    mount --bind '$d/cache' /var/cache/libvirt
    mount --bind '$STATE/shared' /var/lib/libvirt/shared
    $wrap
    exec /usr/sbin/libvirtd --listen --pid-file /run/libvirt/libvirtd.pid"
  ) </dev/null >"$d/libvirtd.out" 2>&1 &
  echo $! >"$d/libvirtd.pid"
}

wait_daemon() {
  local ok=
  for _ in $(seq 1 100); do daemon_alive "$1" && { ok=1; break; }; sleep 0.1; done
  [ -n "$ok" ] || die "libvirtd on $1 did not come up (see $(hdir "$1")/libvirtd.out)"
}

# libvirtd stopped (SIGTERM, as systemctl restart does) and started again; the QEMU processes run
# on (they are not its children in any way libvirtd needs) and the new daemon reconnects to them.
cmd_restart_libvirtd() {
  daemon_alive "$1" || die "libvirtd on $1 is not running"
  kill_pidfile "$(hdir "$1")/libvirtd.pid"
  start_daemon "$1"
  wait_daemon "$1"
  log "libvirtd on $1 restarted"
}

# The host's only link taken down or up (inside its network namespace): the host is cut off from
# the agents and from the other host, as a failed switch port would do.
cmd_link() {
  case "$2" in up|down) ;; *) die "usage: link HOST up|down" ;; esac
  ip -n "$(ns "$1")" link set eth0 "$2"
  log "$1: eth0 $2"
}

cmd_up() {
  [ -s "$STATE/guest/vmlinuz" ] || die "run '$0 install' first"
  if daemon_alive hostb && daemon_alive hostc && ip link show "$BR" >/dev/null 2>&1; then
    log "already up"
    return 0
  fi
  cmd_down
  ip link add "$BR" type bridge
  ip addr add "$NET.1/24" dev "$BR"
  ip link set "$BR" up
  local h pids=()
  for h in "${HOSTS[@]}"; do
    local d ip
    d=$(hdir "$h"); ip=$(host_ip "$h")
    mkdir -p "$d"/{run,lib/images,log/qemu,cache}
    cp -a /etc/libvirt "$d/etc"
    rm -f "$d"/etc/qemu/networks/autostart/*
    cat >"$d/etc/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 1
listen_addr = "$ip"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "$(host_uuid "$h")"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    # cgroups off: two daemons share the container's cgroup tree and would collide on
    # machine/qemu-N-name during a migration. stdio_handler=file: no virtlogd needed.
    cat >"$d/etc/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
migration_address = "$ip"
migration_host = "$ip"
migrate_tls_x509_cert_dir = "/etc/libvirt/pki-migrate"
migrate_tls_x509_verify = 1
EOF
    if [ "$h" = hostc ] && [ -n "${LM_TESTBED_HOSTC_CPU_OFF-avx2}" ]; then
      local g= f
      for f in ${LM_TESTBED_HOSTC_CPU_OFF-avx2}; do g="$g -global max-x86_64-cpu.$f=off"; done
      printf '#!/bin/sh\nexec %s "$@"%s\n' "$d/qemu-real" "$g" >"$d/qemu-wrapper"
      chmod +x "$d/qemu-wrapper"
      : >"$d/qemu-real"
    fi
    # libvirtd insists the TLS directory exists; `tls-certs` fills it when a test wants TLS.
    mkdir -p "$STATE/shared" "$d/lib/shared" "$d/etc/pki-migrate"
    ip netns add "$(ns "$h")"
    ip link add "v$(ns "$h")" type veth peer name eth0 netns "$(ns "$h")"
    ip link set "v$(ns "$h")" master "$BR" up
    ip -n "$(ns "$h")" addr add "$ip/24" dev eth0
    ip -n "$(ns "$h")" link set eth0 up
    ip -n "$(ns "$h")" link set lo up
    start_daemon "$h"
  done
  for h in "${HOSTS[@]}"; do
    wait_daemon "$h"
    check_route "$h"
    # Host-local storage: the destination of a block migration pre-creates the disk in the pool
    # whose target holds the source's disk path.
    lvirsh "$h" pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
    lvirsh "$h" pool-start default >/dev/null
    lvirsh "$h" pool-define-as shared dir --target /var/lib/libvirt/shared >/dev/null
    lvirsh "$h" pool-start shared >/dev/null
    # Warm-up: the QEMU capability probe takes seconds; done here, not during a migration.
    lvirsh "$h" domcapabilities --virttype "$(domain_type)" >/dev/null &
    pids+=($!)
  done
  wait "${pids[@]}"
  log "up: $(uri hostb) $(uri hostc) (domain type $(domain_type))"
}

kill_pidfile() {
  local p
  p=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$p" ] && kill "$p" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
}

all_domains() { lvirsh "$1" list --all --name 2>/dev/null | sed '/^$/d' || true; }

remove_domains() {
  local h d
  for h in "${HOSTS[@]}"; do
    daemon_alive "$h" || continue
    for d in $(all_domains "$h"); do
      lvirsh "$h" destroy "$d" >/dev/null 2>&1 || true
      lvirsh "$h" undefine "$d" >/dev/null 2>&1 || true
    done
    rm -f "$(hdir "$h")"/lib/images/*
    lvirsh "$h" pool-refresh default >/dev/null 2>&1 || true
  done
  rm -f "$STATE"/shared/*.qcow2
}

cmd_down() {
  local h f
  remove_domains
  for h in "${HOSTS[@]}"; do
    kill_pidfile "$(hdir "$h")/libvirtd.pid"
    for f in "$(hdir "$h")"/run/qemu/*.pid; do [ -e "$f" ] && kill_pidfile "$f"; done
    ip netns del "$(ns "$h")" 2>/dev/null || true
    ip link del "v$(ns "$h")" 2>/dev/null || true
    rm -rf "$(hdir "$h")"
  done
  ip link del "$BR" 2>/dev/null || true
  rmdir "$STATE/hosts" 2>/dev/null || true
  rm -rf "$STATE/shared"
  rm -f "$STATE"/*.xml
}

cmd_where() {
  local h
  for h in "${HOSTS[@]}"; do
    [ "$(lvirsh "$h" domstate "$1" 2>/dev/null | head -1)" = running ] && echo "$h"
  done
  return 0
}

cmd_ticks() {
  local f
  f="$(hdir "$2")/log/qemu/$1-serial.log"
  [ -f "$f" ] || return 0
  { grep -ao 'lm-guest: tick=[0-9]*' "$f" || true; } | tail -1 | sed 's/.*tick=//'
}

# Who owns the guest, as the agent reads it: livemigrate's own element, or with --nova what
# nova-compute writes into every domain it defines (<nova:instance>; project and user by uuid).
# Reads cmd_guest's locals (name, disk, nova).
guest_metadata() {
  if [ -n "$nova" ]; then
    cat <<EOF
<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>$name</nova:name>
      <nova:flavor name="m1.nano"><nova:memory>256</nova:memory><nova:disk>$(( (disk + 1023) / 1024 ))</nova:disk><nova:vcpus>1</nova:vcpus></nova:flavor>
      <nova:owner><nova:user uuid="0a1b2c3d4e5f40718293a4b5c6d7e8f9">tester</nova:user><nova:project uuid="f9e8d7c6b5a44938271605f4e3d2c1b0">testbed</nova:project></nova:owner>
    </nova:instance>
EOF
  else
    cat <<EOF
<lm:instance xmlns:lm="https://livemigrate.io/xmlns/instance/1.0">
      <lm:project>testbed</lm:project><lm:user>testbed</lm:user><lm:flavor>m1.tiny</lm:flavor>
      <lm:disk_gb>$(( (disk + 1023) / 1024 ))</lm:disk_gb>
    </lm:instance>
EOF
  fi
}

cmd_guest() {
  local name=$1 host=hostb rate=8 ws=64 disk=0 shared= cpu_xml= nova=
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --host) host=$2; shift 2 ;;
      --rate) rate=$2; shift 2 ;;
      --ws) ws=$2; shift 2 ;;
      --disk) disk=$2; shift 2 ;;
      --shared) shared=1; shift ;;
      --nova) nova=1; shift ;;
      --cpu-require) cpu_xml="<cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>qemu64</model><feature policy='require' name='$2'/></cpu>"; shift 2 ;;
      *) die "guest: unknown option $1" ;;
    esac
  done
  daemon_alive "$host" || die "run '$0 up' first"
  # One guest at a time: TCG on a small machine.
  remove_domains
  rm -f "$(hdir hostb)/log/qemu/$name-serial.log" "$(hdir hostc)/log/qemu/$name-serial.log"
  local uuid disk_xml=
  uuid=$(printf '%s' "$name" | md5sum | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')
  if [ "$disk" -gt 0 ]; then
    local img="$(hdir "$host")/lib/images/$name.qcow2" dir=/var/lib/libvirt/images pool=default
    local cache=
    if [ -n "$shared" ]; then
      img="$STATE/shared/$name.qcow2" dir=/var/lib/libvirt/shared pool=shared
      # Not a filesystem libvirt knows as shared (NFS, ...): it migrates such a disk without
      # copying only with the host page cache off.
      cache=" cache='none'"
    fi
    qemu-img create -q -f qcow2 "$img" "${disk}M"
    # Non-zero data, so the disk copy has something to transfer.
    qemu-io -f qcow2 -c "write -P 0x5a 0 $((disk / 2))M" "$img" >/dev/null
    lvirsh "$host" pool-refresh "$pool" >/dev/null
    disk_xml="<disk type='file' device='disk'><driver name='qemu' type='qcow2'$cache/>
      <source file='$dir/$name.qcow2'/><target dev='vda' bus='virtio'/></disk>"
  fi
  local xml="$STATE/$name.xml"
  cat >"$xml" <<EOF
<domain type='$(domain_type)'>
  <name>$name</name>
  <uuid>$uuid</uuid>
  <metadata>$(guest_metadata)</metadata>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  $cpu_xml
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$STATE/guest/vmlinuz</kernel><initrd>$STATE/guest/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet dirty_rate=$rate dirty_ws=$ws</cmdline></os>
  <!-- acpi: without it libvirt 9 passes -no-acpi, which QEMU 9 and later refuse. -->
  <features><acpi/><apic/></features>
  <on_reboot>destroy</on_reboot>
  <devices>
    $disk_xml
    <serial type='pty'><log file='/var/log/libvirt/qemu/$name-serial.log' append='on'/><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
  lvirsh "$host" define "$xml" >/dev/null
  lvirsh "$host" start "$name" >/dev/null
  for _ in $(seq 1 600); do
    [ -n "$(cmd_ticks "$name" "$host")" ] && { log "$name ($uuid) running on $host"; echo "$uuid"; return 0; }
    sleep 0.1
  done
  die "$name printed no heartbeat on $host within 60 s"
}

cmd_rate() {
  local rate=$1 name=${2:-} h pty
  [ -n "$name" ] || name=$(all_domains hostb; all_domains hostc)
  name=$(echo "$name" | head -1)
  h=$(cmd_where "$name" | head -1)
  [ -n "$h" ] || die "$name is not running"
  pty=$(lvirsh "$h" ttyconsole "$name")
  # QEMU's pty backend only reads while a client is connected, and polls for one about once a
  # second: keep the pty open around the write, or the line is lost.
  { sleep 1.2; echo "rate $rate"; sleep 1.2; } >"$pty"
}

cmd_tls_certs() {
  # A fresh CA and one certificate per host, valid as server (incoming migration) and client
  # (outgoing), for the host's address: QEMU checks the destination's certificate against it.
  local tmp h d ip
  tmp=$(mktemp -d)
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=livemigrate testbed CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$tmp/ca-key.pem" -out "$tmp/ca-cert.pem" 2>/dev/null
  for h in "${HOSTS[@]}"; do
    d="$(hdir "$h")/etc/pki-migrate"; ip=$(host_ip "$h")
    mkdir -p "$d"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$h" -keyout "$d/server-key.pem" \
      -out "$tmp/$h.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=IP:$ip,DNS:$h" >"$tmp/$h.ext"
    openssl x509 -req -in "$tmp/$h.csr" -CA "$tmp/ca-cert.pem" -CAkey "$tmp/ca-key.pem" \
      -CAcreateserial -days 2 -extfile "$tmp/$h.ext" -out "$d/server-cert.pem" 2>/dev/null
    cp "$d/server-cert.pem" "$d/client-cert.pem"
    cp "$d/server-key.pem" "$d/client-key.pem"
    cp "$tmp/ca-cert.pem" "$d/ca-cert.pem"
  done
  rm -rf "$tmp"
  log "TLS certificates for ${HOSTS[*]} in $STATE/hosts/*/etc/pki-migrate"
}

cmd_logs() {
  local h
  for h in "${HOSTS[@]}"; do
    [ -d "$(hdir "$h")" ] || continue
    mkdir -p "$1/$h"
    cp -r "$(hdir "$h")"/log/. "$(hdir "$h")/libvirtd.out" "$1/$h/" 2>/dev/null || true
  done
}

case "${1:-}" in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down ;;
  purge) cmd_down; rm -rf "$STATE" ;;
  guest) shift; cmd_guest "$@" ;;
  rate) shift; cmd_rate "$@" ;;
  where) cmd_where "$2" ;;
  ticks) cmd_ticks "$2" "$3" ;;
  logs) cmd_logs "$2" ;;
  tls-certs) cmd_tls_certs ;;
  uri) uri "$2" ;;
  restart-libvirtd) cmd_restart_libvirtd "$2" ;;
  link) cmd_link "$2" "$3" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
