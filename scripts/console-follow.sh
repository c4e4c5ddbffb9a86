#!/bin/bash
# console-follow.sh BIN DB SECONDS: the console (BIN) on DB in tmux at 160x48 on Tokens, while the same
# BIN creates a token twice a second for SECONDS; prints the console's CPU share and peak RSS.
# DB needs a user "writer" and an open service "writes":
#   echo | BIN --db DB user add writer --auth webservice; BIN --db DB service add writes --name Writes --enabled
BIN=$1; DB=$2; SECS=${3:-20}
S="tmux -L measure"
$S kill-server 2>/dev/null
$S new-session -d -x 160 -y 48 -s m "$BIN --db $DB"
sleep 4
$S send-keys -t m 7
sleep 3
PID=$(pgrep -f "^$BIN --db $DB$" | head -1)
ticks() { awk '{print $14+$15}' /proc/$PID/stat; }
T0=$(ticks); W0=$(date +%s.%N)
for i in $(seq 1 $((SECS*2))); do
  s=$(date +%s.%N)
  $BIN --db $DB token create --user writer --service writes >/dev/null
  e=$(date +%s.%N); sleep $(echo "0.5 - ($e - $s)" | bc | sed 's/^-.*/0/')
done
T1=$(ticks); W1=$(date +%s.%N)
HWM=$(grep VmHWM /proc/$PID/status | awk '{print $2}')
echo "$(basename $(dirname $BIN))/$(basename $BIN): console CPU $(echo "scale=1; ($T1-$T0)/$(getconf CLK_TCK)*100/($W1-$W0)" | bc) % of a core over $(echo "$W1-$W0" | bc | cut -c1-5) s; peak RSS $((HWM/1024)) MiB"
$S kill-server
