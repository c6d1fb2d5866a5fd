#!/usr/bin/env bash
# Runs Slipway from the files deploy/Containerfile's final stage holds, the way the image runs
# them, without a container engine: a temporary root with the binary and the compiled site
# where the image COPYs them, read-only except /data (owned by the image's user) and /tmp, the
# image's ENV, as the image's USER with no new privileges. The host's /usr stands in for the
# Debian base (git, CA certificates, libc). Needs root (mount namespaces); the browser tests run
# it (end2end/image.test.mjs).
#   image-root.sh prepare ROOT BINARY SITE   lays the files out under ROOT
#   image-root.sh run ROOT [NAME=VALUE...] -- ARGS...   runs `slipway ARGS` in it (extra ENV,
#                                              as `docker run -e` would add)
#   image-root.sh cleanup ROOT               removes ROOT
set -euo pipefail

containerfile="$(cd "$(dirname "$0")/.." && pwd)/deploy/Containerfile"
# The final stage: from its last FROM on.
stage=$(awk '/^FROM /{stage=""} {stage=stage $0 "\n"} END{printf "%s", stage}' "$containerfile")

# What the host lends the root, read-only, in place of the Debian base: all of /usr but
# /usr/local (where the image's own files go), and /etc.
HOST_DIRS=""
for dir in /usr/*; do
  [ "$dir" != /usr/local ] && [ -d "$dir" ] && HOST_DIRS="$HOST_DIRS ${dir#/}"
done
HOST_DIRS="$HOST_DIRS etc"
export HOST_DIRS

# `COPY --from=build SRC DEST` lines of the final stage: DEST for a SRC ending in $1.
destination_of() {
  awk -v tail="$1" '$1 == "COPY" && $3 ~ (tail "$") {print $4}' <<<"$stage"
}

prepare() {
  local root=$1 binary=$2 site=$3
  local bin_dest site_dest
  bin_dest=$(destination_of "/target/release/slipway")
  site_dest=$(destination_of "/target/site")
  if [ -z "$bin_dest" ] || [ -z "$site_dest" ]; then
    echo "the Containerfile's final stage copies no binary or no site" >&2
    exit 1
  fi
  mkdir -p "$root/rootfs" "$root/data" "$root/tmp"
  install -D -m 0755 "$binary" "$root/rootfs$bin_dest"
  mkdir -p "$(dirname "$root/rootfs$site_dest")"
  cp -R "$site" "$root/rootfs$site_dest"
  for dir in $HOST_DIRS data tmp proc dev; do mkdir -p "$root/rootfs/$dir"; done
  for link in bin lib lib64 sbin; do
    if [ -L "/$link" ]; then ln -sfn "$(readlink "/$link")" "$root/rootfs/$link"; fi
  done
  # The image's `install -d -o 10001 -g 10001 -m 0700 /data`.
  local owner
  owner=$(grep -o 'install -d -o [0-9]* -g [0-9]*' <<<"$stage" | awk '{print $4 ":" $6}')
  chown "$owner" "$root/data"
  chmod 0700 "$root/data"
  chmod 1777 "$root/tmp"
}

run() {
  local root=$1
  shift
  local extra=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do extra+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  local user uid gid
  user=$(awk '$1 == "USER" {print $2}' <<<"$stage")
  uid=${user%%:*}
  gid=${user##*:}
  # ENV NAME=VALUE \ ... (one instruction, continued over backslashes).
  local image_env=()
  mapfile -t image_env < <(sed -n '/^ENV /,/[^\\]$/p' <<<"$stage" | sed 's/^ENV //; s/\\$//' | tr -s ' ' '\n' | grep '=')
  local workdir
  workdir=$(awk '$1 == "WORKDIR" {dir=$2} END {print dir}' <<<"$stage")
  local rootfs="$root/rootfs"
  # The inner script's variables are its own (single quotes on purpose).
  # shellcheck disable=SC2016
  exec unshare --mount --propagation private -- bash -euo pipefail -c '
    rootfs=$1 data=$2 tmp=$3
    shift 3
    mount --bind "$rootfs" "$rootfs"
    for dir in $HOST_DIRS; do
      mount --rbind "/$dir" "$rootfs/$dir"
      mount -o remount,bind,ro "$rootfs/$dir"
    done
    mount --rbind /dev "$rootfs/dev"
    mount -t proc proc "$rootfs/proc"
    mount --bind "$data" "$rootfs/data"
    mount --bind "$tmp" "$rootfs/tmp"
    mount -o remount,bind,ro "$rootfs"
    exec chroot "$rootfs" "$@"
  ' image-root "$rootfs" "$root/data" "$root/tmp" \
    /usr/bin/setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs \
    /usr/bin/env -i -C "$workdir" "${image_env[@]}" "${extra[@]}" /usr/local/bin/slipway "$@"
}

case "${1:-}" in
  prepare) shift; prepare "$@" ;;
  run) shift; run "$@" ;;
  cleanup) rm -rf -- "${2:?ROOT}" ;;
  *) echo "usage: $0 prepare ROOT BINARY SITE | run ROOT [NAME=VALUE...] -- ARGS... | cleanup ROOT" >&2; exit 2 ;;
esac
