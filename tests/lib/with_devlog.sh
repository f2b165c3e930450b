# shellcheck shell=bash
# Runs inside a private mount namespace: replaces /dev with a small tmpfs whose /dev/log
# is the test's syslog receiver (a SOCK nothing listens on: no syslog), with terminals of
# its own, then execs the command. Usage: with_devlog.sh SOCK CMD...
set -eu
sock=$1
shift
mount -t tmpfs -o mode=0755,size=64k kwdev /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
ln -s "$sock" /dev/log
ln -s /proc/self/fd /dev/fd
# terminals of its own (a new devpts instance), for a command run under script(1)
mkdir /dev/pts
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 kwpts /dev/pts
ln -s pts/ptmx /dev/ptmx
exec "$@"
