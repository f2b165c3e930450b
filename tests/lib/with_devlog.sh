# shellcheck shell=bash
# Runs inside a private mount namespace: replaces /dev with a small tmpfs whose /dev/log
# is the test's syslog receiver, then execs the command. Usage: with_devlog.sh SOCK CMD...
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
exec "$@"
