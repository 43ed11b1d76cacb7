# Stand-in container images for the demo, as one OCI image-layout directory.
#
# The demo runs without a container registry or internet access, so the
# images its example deployment names are replaced by small stand-ins with
# the same names: one layer holding /etc/passwd and /etc/group, and a config
# with the entrypoint, command, environment and user of the real image.
# `contrast generate --image-layout DIR` resolves the names from here and
# pins the stand-ins' digests, exactly as it would pin the real images'.
# Deterministic: the same inputs give the same digests.
#
#   source scripts/lib/stand-in-images.sh
#   oci_layout_init DIR
#   oci_layout_add DIR NAME ENTRYPOINT_JSON CMD_JSON USER ENV_JSON PASSWD GROUP

oci_layout_init() {  # dir
  mkdir -p "$1/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
  printf '[]' >"$1/.manifests"
}

# Stores stdin as a blob; prints "<hex> <size>".
oci_blob() {  # dir
  local tmp hex size
  tmp=$(mktemp "$1/blobs/.tmp.XXXXXX")
  cat >"$tmp"
  hex=$(sha256sum "$tmp" | cut -d' ' -f1)
  size=$(stat -c %s "$tmp")
  mv "$tmp" "$1/blobs/sha256/$hex"
  echo "$hex $size"
}

oci_layout_add() {  # dir name entrypoint cmd user env passwd group
  local dir=$1 name=$2 entrypoint=$3 cmd=$4 user=$5 env=$6 passwd=$7 group=$8
  local root layer_tar diff_id layer config manifest
  root=$(mktemp -d)
  mkdir -p "$root/etc"
  printf '%s' "$passwd" >"$root/etc/passwd"
  printf '%s' "$group" >"$root/etc/group"
  chmod 0644 "$root/etc/passwd" "$root/etc/group"
  layer_tar=$(mktemp)
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$layer_tar" -C "$root" etc
  diff_id=$(sha256sum "$layer_tar" | cut -d' ' -f1)
  read -r layer_hex layer_size < <(gzip -n -c "$layer_tar" | oci_blob "$dir")
  rm -rf "$root" "$layer_tar"
  read -r config_hex config_size < <(printf '{"architecture":"amd64","os":"linux","config":{"User":"%s","Env":%s,"Entrypoint":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$user" "$env" "$entrypoint" "$cmd" "$diff_id" | oci_blob "$dir")
  read -r manifest_hex manifest_size < <(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config_hex" "$config_size" "$layer_hex" "$layer_size" | oci_blob "$dir")
  local entry
  entry=$(printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}' \
    "$manifest_hex" "$manifest_size" "$name")
  local manifests
  manifests=$(cat "$dir/.manifests")
  if [[ "$manifests" == "[]" ]]; then manifests="[$entry]"; else manifests="${manifests%]},$entry]"; fi
  printf '%s' "$manifests" >"$dir/.manifests"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":%s}' "$manifests" >"$dir/index.json"
}
