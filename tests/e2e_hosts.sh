#!/usr/bin/env bash
# e2e_hosts.sh MATRIXRUN SRCDIR XSD: a matrix with two libvirt hosts. No second machine
# is reachable here, so the second host is this machine again, through libvirt's remote
# driver over SSH (qemu+libssh://root@127.0.0.1:PORT/system) to an sshd this test starts
# on 127.0.0.1. The cells must be spread over both hosts by their free capacity, each
# report must name its host, and the remote host's guest must be reached through an SSH
# tunnel over that host's connection (direct-tcpip, seen in the sshd's log), not through
# its forwarded port directly. The remote host shares no storage with matrixrun: the
# remote cell's overlay, seed and serial log must go through the host's storage pool
# `matrixrun` (watched with virsh over the remote URI while the run goes), never through
# the local work folder, and the pool must hold none of them afterwards. A second run puts
# a cloud-init guest on the remote host alone, so its NoCloud seed ISO is uploaded too.
# Then a run is SIGKILLed with a cell on the remote host: `clean` must find its volumes.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
e2e_need_images "$src"
e2e_init hosts
img=$src/images/out
doms_before=$(mr_domains)
sshd=/usr/sbin/sshd
if [ ! -x "$sshd" ]; then
    echo "FAIL $sshd is missing: run 'bash setup.sh' first (it installs openssh-server)"
    exit 1
fi
mkdir -p /run/sshd

# The "remote" host's sshd: its own host key, root login by this test's key only.
ssh-keygen -q -t ed25519 -N "" -f "$tmp/host_key" -C e2e-hosts-host
ssh-keygen -q -t ed25519 -N "" -f "$tmp/client_key" -C e2e-hosts-client
cp "$tmp/client_key.pub" "$tmp/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/sshd_config" <<EOF
ListenAddress 127.0.0.1:$port
HostKey $tmp/host_key
AuthorizedKeysFile $tmp/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
LogLevel DEBUG1
EOF
"$sshd" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
sshd_pid=$!
# On any exit (e2e_init's trap): stop the sshd, and delete the pool volumes of every run
# this test started (their ids are in the runs' first progress line), so that a test that
# dies mid-way leaves nothing in the pool.
e2e_on_exit() {
    local id
    kill "$sshd_pid" 2>/dev/null
    for id in $(sed -n 's/.*\] run \([0-9a-f-]*\):.*/\1/p' "$tmp"/out* 2>/dev/null | sort -u); do
        virsh -c "$E2E_URI" vol-list matrixrun 2>/dev/null | awk -v p="mr-$id-" 'index($1, p) == 1 { print $1 }' |
            while read -r v; do virsh -c "$E2E_URI" vol-delete --pool matrixrun "$v" >/dev/null 2>&1; done
    done
}
echo "[127.0.0.1]:$port $(cut -d' ' -f1-2 "$tmp/host_key.pub")" >"$tmp/known_hosts"
wait_for "$tmp/sshd.log" "Server listening" 5
remote="qemu+libssh://root@127.0.0.1:$port/system?keyfile=$tmp/client_key&known_hosts=$tmp/known_hosts&sshauth=privkey"
if virsh -c "$remote" version >/dev/null 2>"$tmp/virsh.err"; then
    ok "libvirt reaches the second host over SSH"
else
    bad "libvirt over SSH: $(cat "$tmp/virsh.err")"
fi

esc=${remote//&/&amp;}
cat >"$tmp/hosts.xml" <<XML
<matrix version="1" name="hosts">
  <host uri="$E2E_URI" accel="tcg"/>
  <host uri="$esc" accel="tcg"/>
  <image name="m" family="debian" user="root" memory-mib="256" vcpus="1" boot-timeout="240">
    <disk path="$img/minimal.qcow2"/>
    <kernel path="$img/minimal.vmlinuz" initrd="$img/minimal.initrd"
            cmdline="console=ttyS0 root=/dev/vda rw"/>
    <hostkey path="$img/minimal.hostkey.pub"/>
  </image>
  <axis name="SLOT"><value>1</value><value>2</value></axis>
  <package name="mr-demo" version="1.0">
    <artifact family="debian" path="$img/mr-demo_1.0_all.deb"/>
  </package>
  <test name="selftest" timeout="60">mr-demo selftest</test>
</matrix>
XML

# Both hosts offer 2 vCPUs (it is the same machine): the first cell goes to the first
# host, the second to the host with more free vCPUs, the remote one.
MATRIXRUN_WORKDIR=$tmp/work "$mr" "$tmp/hosts.xml" -o "$tmp/r" >"$tmp/out" 2>&1 &
mr_pid=$!
# While it runs: what the remote pool holds, and which overlays the local work folder holds.
: >"$tmp/pool.seen"
: >"$tmp/work.seen"
while kill -0 "$mr_pid" 2>/dev/null; do
    virsh -c "$remote" vol-list matrixrun 2>/dev/null | awk 'NR > 2 && $1 != "" { print $1 }' >>"$tmp/pool.seen"
    find "$tmp/work" -name '*.qcow2' -printf '%f\n' 2>/dev/null >>"$tmp/work.seen"
    sleep 0.3
done
wait "$mr_pid"
rc=$?
cat "$tmp/out"
r=$tmp/r/junit.xml
expect_eq "exit code" "$rc" 0
expect_schema_valid "$r" "$xsd"
uri() { xp "$r" "string(//testsuite[@name='$1']/properties/property[@name='libvirt.uri']/@value)"; }
expect_eq "cell 1 ran on the first host" "$(uri m.SLOT=1)" "$E2E_URI"
expect_eq "cell 2 ran on the second host" "$(uri m.SLOT=2)" "$remote"
expect_verdict "$r" m.SLOT=2 install pass
expect_verdict "$r" m.SLOT=2 selftest pass
# The "remote" host is this machine through sshd: its name is the one libvirt gives for
# this machine, asked here with virsh, independently of matrixrun.
expect_eq "the report names the host" "$(xp "$r" "string(//testsuite[@name='m.SLOT=2']/properties/property[@name='host']/@value)")" "$(virsh -c "$E2E_URI" hostname)"
expect_eq "the suite's hostname is the host's" "$(xp "$r" "string(//testsuite[@name='m.SLOT=2']/@hostname)")" "$(virsh -c "$E2E_URI" hostname)"
# The remote cell's guest port, from its boot line; the tunnel must have carried it.
gport=$(sed -n 's/.*m\.SLOT=2: booting (.*ssh on 127\.0\.0\.1:\([0-9]*\) of .*/\1/p' "$tmp/out" | head -n1)
if [ -n "$gport" ]; then ok "the remote guest's port ($gport) is named as the remote host's"; else bad "no remote boot line"; fi
expect_has "sshd carried a direct-tcpip channel to the guest's port" "$(cat "$tmp/sshd.log")" \
    "server_request_direct_tcpip: originator 127.0.0.1 port 0, target 127.0.0.1 port $gport"
# Storage: the remote cell's files lived in the remote pool, the local cell's overlay in
# the local work folder, each only there.
run_id=$(xp "$r" "string(//testsuite[@name='m.SLOT=2']/properties/property[@name='run.id']/@value)")
seen_pool=$(sort -u "$tmp/pool.seen" | grep -F "mr-$run_id-" | tr '\n' ' ')
seen_work=$(sort -u "$tmp/work.seen" | tr '\n' ' ')
expect_has "the remote cell's overlay was a volume of the remote pool" "$seen_pool" "mr-$run_id-m.SLOT=2.qcow2"
expect_has "the remote cell's serial log was a volume of the remote pool" "$seen_pool" "mr-$run_id-m.SLOT=2-serial.log"
expect_eq "the local cell used no pool volume" "$(grep -c -F "mr-$run_id-m.SLOT=1" "$tmp/pool.seen")" 0
expect_has "the local cell's overlay was in the local work folder" "$seen_work" "m.SLOT=1.qcow2"
expect_eq "the remote cell's overlay was never in the local work folder" "$(grep -c 'SLOT=2' "$tmp/work.seen")" 0
serial=$tmp/r/m.SLOT=2/serial.log
if [ -s "$serial" ]; then ok "the remote cell's serial log was copied into its report"; else bad "no serial log for the remote cell at $serial"; fi
expect_has "the remote cell's serial log holds the guest's boot text" "$(cat "$serial" 2>/dev/null)" "Linux version"
expect_has "the archive carries it" "$(tar -tzf "$tmp/r/m.SLOT=2/artifacts.tar.gz" 2>/dev/null)" "serial.log"
left=$(virsh -c "$remote" vol-list matrixrun 2>&1 | grep -F "mr-$run_id-" || true)
expect_eq "the remote pool holds none of the run's volumes" "$left" ""
expect_clean "$tmp/work" "$doms_before"

# A seeded guest (the cloud image, provisioned by cloud-init from matrixrun's NoCloud seed)
# on the remote host alone: the seed ISO is made here and uploaded into the pool.
cat >"$tmp/seeded.xml" <<XML
<matrix version="1" name="seeded" retries="0">
  <host uri="$E2E_URI" accel="tcg"/>
  <image name="cloud" family="debian" version="12" memory-mib="1024" vcpus="2" boot-timeout="400">
    <disk path="$img/cloud.qcow2"/>
  </image>
  <package name="mr-demo" version="1.0" install-timeout="300">
    <artifact family="debian" path="$img/mr-demo_1.0_all.deb"/>
  </package>
  <test name="selftest" timeout="60">mr-demo selftest</test>
</matrix>
XML
MATRIXRUN_WORKDIR=$tmp/work2 "$mr" "$tmp/seeded.xml" --connect "$remote" -o "$tmp/r2" >"$tmp/out2" 2>&1 &
mr_pid=$!
: >"$tmp/pool2.seen"
while kill -0 "$mr_pid" 2>/dev/null; do
    virsh -c "$remote" vol-list matrixrun 2>/dev/null | awk 'NR > 2 && $1 != "" { print $1 }' >>"$tmp/pool2.seen"
    find "$tmp/work2" -name '*.qcow2' -printf '%f\n' 2>/dev/null >>"$tmp/pool2.seen.work"
    sleep 0.5
done
wait "$mr_pid"
rc=$?
cat "$tmp/out2"
r2=$tmp/r2/junit.xml
expect_eq "seeded: exit code" "$rc" 0
expect_verdict "$r2" cloud boot pass
expect_verdict "$r2" cloud selftest pass
expect_eq "seeded: provisioned by the seed" "$(xp "$r2" "string(//testsuite[@name='cloud']/properties/property[@name='provisioning']/@value)")" "cloud-init seed"
run2=$(xp "$r2" "string(//testsuite[@name='cloud']/properties/property[@name='run.id']/@value)")
seen2=$(sort -u "$tmp/pool2.seen" | grep -F "mr-$run2-" | tr '\n' ' ')
expect_has "seeded: the seed ISO was a volume of the remote pool" "$seen2" "mr-$run2-cloud-seed.iso"
expect_has "seeded: so was the overlay" "$seen2" "mr-$run2-cloud.qcow2"
expect_eq "seeded: no overlay in the local work folder" "$(cat "$tmp/pool2.seen.work" 2>/dev/null)" ""
expect_has "seeded: the serial log came back from the pool" "$(cat "$tmp/r2/cloud/serial.log" 2>/dev/null)" "Welcome to Debian"
left=$(virsh -c "$remote" vol-list matrixrun 2>&1 | grep -F "mr-$run2-" || true)
expect_eq "seeded: the remote pool holds none of the run's volumes" "$left" ""
expect_clean "$tmp/work2" "$doms_before"

# The tunnel's SSH connection dies while the remote cell's test runs (as when the host's
# sshd restarts): that test is an <error type="connection">, the reconnect's dial opens
# the tunnel again, and the cell goes on. Only the tunnel's session is killed: libvirt's
# own connection through the same sshd (its session runs virt-ssh-helper or nc) stays.
sed -e 's/name="hosts"/name="hosts" retries="0"/' -e '/<axis/d' \
    -e 's#<test name="selftest"#<test name="slow" timeout="120">sleep 20</test>\n  <test name="selftest"#' \
    "$tmp/hosts.xml" >"$tmp/cut.xml"
accepted_before=$(grep -c "Accepted publickey" "$tmp/sshd.log")
MATRIXRUN_WORKDIR=$tmp/work5 "$mr" "$tmp/cut.xml" --connect "$remote" -o "$tmp/r5" >"$tmp/out5" 2>&1 &
mr_pid=$!
wait_for "$tmp/out5" "m: test slow" 300
sleep 2
victims=$(python3 - "$sshd_pid" <<'PY'
import os, sys
procs = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            st = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        procs[int(p)] = (int(st[st.rindex(")") + 2:].split()[1]), st[st.index("(") + 1:st.rindex(")")])
def tree(pid):
    out = [pid]
    for k, (pp, _) in procs.items():
        if pp == pid:
            out += tree(k)
    return out
for c, (pp, _) in procs.items():
    if pp == int(sys.argv[1]) and all(procs[p][1].startswith("sshd") for p in tree(c) if p in procs):
        print(c)
PY
)
expect_eq "cut: one sshd session without a command (the tunnel's)" "$(echo "$victims" | wc -w)" 1
kill -KILL $victims
wait "$mr_pid"
rc=$?
cat "$tmp/out5"
r5=$tmp/r5/junit.xml
expect_eq "cut: exit code (an error)" "$rc" 3
expect_schema_valid "$r5" "$xsd"
expect_eq "cut: the running test is a connection error" \
    "$(xp "$r5" "string(//testsuite[@name='m']/testcase[@name='slow']/error/@type)")" connection
expect_verdict "$r5" m selftest pass
expect_has "cut: the tunnel was opened again" "$(cat "$tmp/out5")" "m: the SSH tunnel to root@127.0.0.1:$port was lost and opened again"
expect_eq "cut: one reconnect" "$(xp "$r5" "string(//testsuite[@name='m']/properties/property[@name='ssh.reconnects']/@value)")" 1
# libvirt's connection, the tunnel, and the tunnel again.
expect_eq "cut: the host saw three logins" "$(grep -c "Accepted publickey" "$tmp/sshd.log")" "$((accepted_before + 3))"
left=$(virsh -c "$remote" vol-list matrixrun 2>&1 | grep -F "mr-$(xp "$r5" "string(//testsuite[@name='m']/properties/property[@name='run.id']/@value)")-" || true)
expect_eq "cut: the remote pool holds none of the run's volumes" "$left" ""
expect_clean "$tmp/work5" "$doms_before"

# SIGKILL of a run whose cell boots on the remote host: libvirt's autodestroy takes the
# guest when the dead run's connection closes, but its volumes stay in the remote pool
# and its work folder here. The next run warns about them; `clean --connect` deletes
# them, and leaves alone a volume of a run this machine knows nothing of.
# Its guest's kernel finds no root file system (it prints, panics and starts again), so
# the boot fails whatever the host's speed: a 10 s timeout alone was a race (a quiet
# machine brought the minimal guest's SSH up in 8.1 s).
sed -e 's/name="hosts"/name="hosts" retries="0"/' -e 's/boot-timeout="240"/boot-timeout="10"/' \
    -e 's#root=/dev/vda rw#root=/dev/nonexistent panic=-1#' \
    -e '/<axis/d' "$tmp/hosts.xml" >"$tmp/fail.xml"
MATRIXRUN_WORKDIR=$tmp/work3 "$mr" "$tmp/hosts.xml" --connect "$remote" --only m.SLOT=1 \
    -o "$tmp/rk" >"$tmp/outk" 2>&1 &
mr_pid=$!
# Killed while its guest runs: wait for the guest itself, not for a fixed time.
for _ in $(seq 600); do [ "$(mr_domains)" -gt "$doms_before" ] && break; sleep 0.2; done
expect_eq "killed: the guest was started" "$(mr_domains)" "$((doms_before + 1))"
kill -KILL "$mr_pid"
wait "$mr_pid"
expect_eq "killed: matrixrun died of SIGKILL" "$?" 137
runk=$(ls "$tmp/work3")
for _ in $(seq 50); do [ "$(mr_domains)" = "$doms_before" ] && break; sleep 0.2; done
expect_eq "killed: autodestroy removed the remote guest" "$(mr_domains)" "$doms_before"
vols=$(virsh -c "$remote" vol-list matrixrun 2>&1 | awk 'NR > 2 && $1 != "" { print $1 }' | grep -F "mr-$runk-" | sort | tr '\n' ' ')
expect_eq "killed: its volumes stay in the remote pool" "$vols" "mr-$runk-m.SLOT=1-serial.log mr-$runk-m.SLOT=1.qcow2 "
unknown=mr-20990101-000000-$(od -An -N2 -tx2 /dev/urandom | tr -d ' ')-x.qcow2
virsh -c "$remote" vol-create-as matrixrun "$unknown" 1M >/dev/null || bad "could not make the unknown run's volume"
# A boot that fails on the remote host: the boot error carries the end of the serial log,
# fetched from the pool while the guest still ran; nothing stays in the pool.
MATRIXRUN_WORKDIR=$tmp/work3 "$mr" "$tmp/fail.xml" --connect "$remote" -o "$tmp/r3" >"$tmp/out3" 2>&1
rc=$?
expect_has "killed: the next run warns about the leftovers" "$(cat "$tmp/out3")" \
    "WARNING earlier runs left 1 work folder(s) in $tmp/work3, 0 guest(s) and 2 volume(s) of pool matrixrun on $remote behind"
MATRIXRUN_WORKDIR=$tmp/work3 "$mr" clean --connect "$remote" >"$tmp/cleank" 2>&1
expect_eq "killed: clean exit code" "$?" 0
cat "$tmp/cleank"
expect_has "killed: clean deletes the overlay volume" "$(cat "$tmp/cleank")" "deleting volume mr-$runk-m.SLOT=1.qcow2 of pool matrixrun on $remote"
expect_has "killed: clean counts" "$(cat "$tmp/cleank")" "clean: 0 guest(s), 2 pool volume(s) and 1 work folder(s)"
expect_has "killed: clean names what it leaves alone" "$(cat "$tmp/cleank")" "leaving 1 volume(s) of pool matrixrun on $remote alone"
left=$(virsh -c "$remote" vol-list matrixrun 2>&1 | grep -F "mr-$runk-" || true)
expect_eq "killed: the pool holds none of the killed run's volumes" "$left" ""
expect_has "killed: the unknown run's volume is still there" "$(virsh -c "$remote" vol-list matrixrun 2>&1)" "$unknown"
virsh -c "$remote" vol-delete --pool matrixrun "$unknown" >/dev/null
r3=$tmp/r3/junit.xml
expect_eq "failed boot: exit code" "$rc" 3
expect_verdict "$r3" m boot error
# (10 s under TCG: the kernel has printed for a few seconds and found no root)
tail3=$(xp "$r3" "string(//testsuite[@name='m']/testcase[@name='boot']/system-out)")
if [[ "$tail3" =~ last\ [1-9][0-9]*\ bytes\ of\ the\ serial\ console && "$tail3" == *"] "* ]]; then
    ok "failed boot: the error shows the serial log's end, fetched from the pool"
else
    bad "failed boot: no serial log in the error: '${tail3:0:300}'"
fi
run3=$(xp "$r3" "string(//testsuite[@name='m']/properties/property[@name='run.id']/@value)")
left=$(virsh -c "$remote" vol-list matrixrun 2>&1 | grep -F "mr-$run3-" || true)
expect_eq "failed boot: the remote pool holds none of the run's volumes" "$left" ""
expect_clean "$tmp/work3" "$doms_before"
kill "$sshd_pid"
wait "$sshd_pid" 2>/dev/null
if [ "$E2E_FAIL" -eq 0 ]; then rm -rf "$tmp"; else echo "kept for a look: $tmp"; fi
e2e_summary e2e-hosts
