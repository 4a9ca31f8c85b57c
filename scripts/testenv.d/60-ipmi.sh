# A BMC simulator for the IPMI fencer's integration tests (server/fence/ipmi,
# server/api, server/app). Sourced by scripts/testenv.sh (set -euo pipefail,
# cwd = repo root); appends its export lines to "$tmp". Idempotent: ipmi_sim
# is started only when its port does not answer IPMI.
#
#   bmc      openipmi's ipmi_sim speaking IPMI 2.0 (lanplus) on udp 127.0.0.1:9623,
#            user admin / secret-bmc (administrator)
#   power    the chassis control script keeps the machine's power in a file:
#            "power:1" (on) or "power:0" (off); tests read it back
#
# ipmi_sim runs a console on its stdin and aborts when stdin closes: it is
# given a fifo held open by a sleeping writer.

ipmi_state=/var/tmp/ovm-testenv/ipmi
ipmi_port=9623
ipmi_user=admin
ipmi_password=secret-bmc
mkdir -p "$ipmi_state/sdr"

if ! command -v ipmi_sim >/dev/null 2>&1 || ! command -v ipmitool >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openipmi ipmitool ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openipmi ipmitool; }
fi

[ -s "$ipmi_state/power" ] || echo 'power:1' >"$ipmi_state/power"

cat >"$ipmi_state/chassis.sh" <<CHASSIS
#!/bin/sh
# chassis.sh MC get power | chassis.sh MC set power 0|1: the machine's power switch.
state='$ipmi_state/power'
case "\$2 \$3" in
  "get power") cat "\$state" ;;
  "set power") echo "power:\$4" >"\$state.tmp" && mv "\$state.tmp" "\$state" ;;
  *) exit 0 ;;
esac
CHASSIS
chmod 755 "$ipmi_state/chassis.sh"

cat >"$ipmi_state/lan.conf" <<CONF
name "ovm-test-bmc"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $ipmi_port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "$ipmi_state/chassis.sh 0x20"
  user 2 true "$ipmi_user" "$ipmi_password" admin 10 none md2 md5 straight
CONF

cat >"$ipmi_state/cmds" <<'CMDS'
mc_setbmc 0x20
mc_add 0x20 0 has-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
CMDS

# ipmi_up: whether the BMC answers a lanplus power status.
ipmi_up() {
  ipmitool -I lanplus -C 3 -N 1 -R 1 -H 127.0.0.1 -p "$ipmi_port" -U "$ipmi_user" -P "$ipmi_password" \
    chassis power status >/dev/null 2>&1
}

if ! ipmi_up; then
  [ -p "$ipmi_state/stdin" ] || { rm -f "$ipmi_state/stdin"; mkfifo "$ipmi_state/stdin"; }
  # The writer holds the fifo open for as long as ipmi_sim runs (one writer,
  # kept across restarts).
  if ! { [ -s "$ipmi_state/stdin.pid" ] && kill -0 "$(cat "$ipmi_state/stdin.pid")" 2>/dev/null; }; then
    nohup sleep infinity >"$ipmi_state/stdin" 2>/dev/null &
    echo $! >"$ipmi_state/stdin.pid"
  fi
  nohup ipmi_sim -c "$ipmi_state/lan.conf" -f "$ipmi_state/cmds" -s "$ipmi_state/sdr" \
    <"$ipmi_state/stdin" >>"$ipmi_state/ipmi_sim.log" 2>&1 &
  echo $! >"$ipmi_state/ipmi_sim.pid"
  for _ in $(seq 1 40); do
    ipmi_up && break
    sleep 0.25
  done
  if ! ipmi_up; then
    echo "testenv: ipmi_sim did not answer on udp 127.0.0.1:$ipmi_port; see $ipmi_state/ipmi_sim.log" >&2
    return 1
  fi
fi

{
  echo "export OVM_TEST_IPMI_ADDR='127.0.0.1'"
  echo "export OVM_TEST_IPMI_PORT='$ipmi_port'"
  echo "export OVM_TEST_IPMI_USER='$ipmi_user'"
  echo "export OVM_TEST_IPMI_PASSWORD='$ipmi_password'"
  echo "export OVM_TEST_IPMI_STATE_FILE='$ipmi_state/power'"
} >>"$tmp"
