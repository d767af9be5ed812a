# shellcheck shell=bash disable=SC2153 # REPO, STATE and REGISTRY come from scripts/sandbox
# Sourced by scripts/sandbox: builds the sample images FROM scratch out of host binaries and pushes them.
#
#   127.0.0.1:5000/rel-sample/postgres:15        host PostgreSQL 15 + ldd libraries + busybox
#   127.0.0.1:5000/rel-sample/api:v1, :v2, :v3   host node + ldd libraries + busybox + esbuild bundles +
#                                                 migrations as SQL folder, idempotent script and efbundle
#   127.0.0.1:5000/rel-sample/client:v1, :v2, :v3 busybox httpd + static files
#
# Caching: each image gets an input hash (this file, its sources under examples/sample-app, the esbuild
# bundle, and path/size/mtime of every host file copied into it). The hash is stored in the image as the
# label rel.sample.inputs; when the registry already holds the tag with that label (read from the image
# config through the registry API, with credentials), build and push are skipped.
# Uses from scripts/sandbox: REPO, STATE, REGISTRY, say, die, registry_helper.

SAMPLE_DIR="$REPO/examples/sample-app"
BUILD_DIR="$STATE/build"
PG_HOME=/usr/lib/postgresql/15
PG_SHARE=/usr/share/postgresql/15
IMAGES_RECIPE="${BASH_SOURCE[0]}"
INPUTS_LABEL=rel.sample.inputs

# The static busybox of busybox-static (not the dynamic one of the busybox package).
busybox_path() {
  local path
  path="$(dpkg-query -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -n 1 || true)"
  [[ -n "$path" && -x "$path" ]] || die "busybox-static's /bin/busybox is missing"
  if ldd "$path" >/dev/null 2>&1; then die "$path is not static (expected busybox-static's binary)"; fi
  printf '%s\n' "$path"
}

# The shared libraries (and the dynamic loader) of the given ELF files, one path a line, as ldd names them.
ldd_libraries() {
  local file out
  for file in "$@"; do
    # ldd fails on static executables and on files that are not ELF objects: nothing to add for those.
    out="$(ldd "$file" 2>/dev/null)" || continue
    if grep -q 'not found' <<<"$out"; then
      die "ldd $file: a shared library is missing: $(grep 'not found' <<<"$out" | head -n 1 | xargs)"
    fi
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
  done | LC_ALL=C sort -u
}

# Lines "path size mtime [link target]" describing host files and directory trees (cheap: no hashing).
describe_host_paths() {
  local path
  for path in "$@"; do
    if [[ -d "$path" ]]; then
      find "$path" \( -type f -o -type l \) -printf '%p %s %T@ %l\n' | LC_ALL=C sort
    else
      stat -L -c '%n %s %Y' "$path"
    fi
  done
}

# sha256 of the given repository files (paths relative to the repository root).
describe_repo_files() {
  (cd "$REPO" && find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}

# A fresh root file system: the top-level links of a merged-/usr host, /tmp, and an /etc with passwd/group.
new_rootfs() {
  local root="$1" dir
  rm -rf "$root"
  mkdir -p "$root"/{etc,tmp,usr/bin,usr/sbin,usr/lib,usr/local/bin}
  chmod 1777 "$root/tmp"
  for dir in bin sbin lib lib64; do
    if [[ -L "/$dir" ]]; then
      ln -s "$(readlink "/$dir")" "$root/$dir"
      mkdir -p "$root/$(readlink "/$dir")"
    fi
  done
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/sh
app:x:10001:10001:sample app:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
postgres:x:999:
app:x:10001:
nogroup:x:65534:
EOF
  echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
}

# Copy host files to the same paths under a root file system (symlinks dereferenced).
copy_host_files() {
  local root="$1" file
  shift
  for file in "$@"; do
    mkdir -p "$root$(dirname "$file")"
    cp -L -p "$file" "$root$file"
  done
}

# busybox as /usr/bin/busybox plus a link for each applet that does not exist yet.
install_busybox() {
  local root="$1" busybox="$2" applet
  cp -p "$busybox" "$root/usr/bin/busybox"
  while IFS= read -r applet; do
    [[ -n "$applet" && "$applet" == */* ]] || continue
    if [[ ! -e "$root/$applet" && ! -L "$root/$applet" ]]; then
      mkdir -p "$root/$(dirname "$applet")"
      ln -s /usr/bin/busybox "$root/$applet"
    fi
  done < <("$busybox" --list-full)
}

# ---- the inputs of each image ----------------------------------------------------------------------------
# The host files are listed once per run into these globals by collect_host_inputs (paths have no spaces).
BUSYBOX=''
NODE=''
PG_BINS=''
PG_MODULES=''
PG_LIBS=''
NODE_LIBS=''
C_LOCALE='' # glibc's C.UTF-8 locale (package libc-bin), when the host has it

collect_host_inputs() {
  BUSYBOX="$(busybox_path)"
  NODE="$(command -v node || true)"
  [[ -n "$NODE" ]] || die "node is not installed (the API image carries the host's node binary)"
  NODE="$(readlink -f "$NODE")"
  [[ -x "$PG_HOME/bin/postgres" ]] || die "$PG_HOME/bin/postgres is missing (package postgresql-15)"
  PG_BINS="$(find "$PG_HOME/bin" -mindepth 1 -maxdepth 1 \( -type f -o -type l \) | LC_ALL=C sort)"
  # Server modules, without LLVM JIT (llvmjit.so pulls in libLLVM, 100 MB; PostgreSQL runs without JIT when
  # the provider is absent) and without the build infrastructure (pgxs, bitcode).
  PG_MODULES="$(find "$PG_HOME/lib" -maxdepth 1 -name '*.so' ! -name 'llvmjit*' | LC_ALL=C sort)"
  # shellcheck disable=SC2086
  PG_LIBS="$(ldd_libraries $PG_BINS $PG_MODULES)"
  NODE_LIBS="$(ldd_libraries "$NODE")"
  if [[ -d /usr/lib/locale/C.utf8 ]]; then C_LOCALE=/usr/lib/locale/C.utf8; fi
}

postgres_inputs() {
  {
    echo "recipe $(sha256sum <"$IMAGES_RECIPE")"
    describe_repo_files examples/sample-app/postgres
    # shellcheck disable=SC2086
    describe_host_paths "$BUSYBOX" "$PG_SHARE" /usr/share/zoneinfo $C_LOCALE $PG_BINS $PG_MODULES $PG_LIBS
  } | sha256sum | cut -d' ' -f1
}

stage_postgres() {
  local ctx="$1" root="$1/rootfs"
  new_rootfs "$root"
  mkdir -p "$root$PG_HOME/lib" "$root/usr/share/postgresql"
  cp -a "$PG_HOME/bin" "$root$PG_HOME/"
  # shellcheck disable=SC2086
  cp -p $PG_MODULES "$root$PG_HOME/lib/"
  cp -a "$PG_SHARE" "$root/usr/share/postgresql/"
  rm -rf "$root$PG_SHARE/man"
  cp -a /usr/share/zoneinfo "$root/usr/share/"
  if [[ -n "$C_LOCALE" ]]; then
    mkdir -p "$root/usr/lib/locale"
    cp -a "$C_LOCALE" "$root/usr/lib/locale/"
  fi
  # shellcheck disable=SC2086
  copy_host_files "$root" $PG_LIBS
  install_busybox "$root" "$BUSYBOX"
  mkdir -p "$ctx/owned/var/lib/postgresql/data" "$ctx/owned/var/run/postgresql"
  chmod 700 "$ctx/owned/var/lib/postgresql/data"
  chmod 3777 "$ctx/owned/var/run/postgresql"
  cp -p "$SAMPLE_DIR/postgres/Dockerfile" "$SAMPLE_DIR/postgres/docker-entrypoint.sh" "$SAMPLE_DIR/postgres/locale" "$ctx/"
  chmod 755 "$ctx/docker-entrypoint.sh" "$ctx/locale"
}

# Into one directory, printed: server.js + pg in one CommonJS file, and the stand-in migration bundle
# The stand-in EF Core bundle that @rel/db-migrate's tests use (packages/db-migrate/fixtures/bundle/efbundle.mjs)
# + pg in one ES module (it uses top-level await; `require` is provided for pg's CommonJS).
# Rebuilt every run (esbuild takes well under a second); their content is part of the input hash, so an
# upgrade of pg in node_modules rebuilds the images.
bundle_api() {
  local esbuild="$REPO/node_modules/.bin/esbuild" out="$BUILD_DIR/api-bundle"
  [[ -x "$esbuild" ]] || die "$esbuild is missing: run npm ci first"
  mkdir -p "$out"
  (cd "$REPO" && "$esbuild" examples/sample-app/api/server.js --bundle --platform=node --format=cjs \
    --target=node20 --external:pg-native --log-level=warning --outfile="$out/server.js") ||
    die "esbuild could not bundle examples/sample-app/api/server.js"
  (cd "$REPO" && "$esbuild" packages/db-migrate/fixtures/bundle/efbundle.mjs --bundle --platform=node --format=esm \
    --target=node20 --external:pg-native --log-level=warning --outfile="$out/efbundle.mjs" \
    --banner:js="import { createRequire as __efbundleRequire } from 'node:module'; const require = __efbundleRequire(import.meta.url);") ||
    die "esbuild could not bundle packages/db-migrate/fixtures/bundle/efbundle.mjs"
  printf '%s\n' "$out"
}

# The migration ids of a folder of <MigrationId>.sql files, comma-separated, in order.
migration_ids() {
  local dir="$1" file ids=()
  while IFS= read -r file; do ids+=("$(basename "$file" .sql)"); done < <(find "$dir" -maxdepth 1 -name '*.sql' | LC_ALL=C sort)
  (IFS=,; printf '%s\n' "${ids[*]}")
}

api_inputs() {
  local version="$1" bundle="$2"
  [[ -d "$SAMPLE_DIR/api/migrations/$version" ]] || die "examples/sample-app/api/migrations/$version is missing"
  {
    echo "recipe $(sha256sum <"$IMAGES_RECIPE")"
    echo "version $version"
    echo "bundle $(sha256sum <"$bundle/server.js")"
    echo "efbundle $(sha256sum <"$bundle/efbundle.mjs")"
    describe_repo_files examples/sample-app/api/Dockerfile examples/sample-app/api/efbundle \
      examples/sample-app/api/idempotent-script.mjs "examples/sample-app/api/migrations/$version"
    # shellcheck disable=SC2086
    describe_host_paths "$NODE" "$BUSYBOX" $NODE_LIBS
  } | sha256sum | cut -d' ' -f1
}

stage_api() {
  local ctx="$1" version="$2" bundle="$3" root="$1/rootfs"
  new_rootfs "$root"
  cp -p "$NODE" "$root/usr/bin/node"
  # shellcheck disable=SC2086
  copy_host_files "$root" $NODE_LIBS
  install_busybox "$root" "$BUSYBOX"
  mkdir -p "$ctx/app/migrations"
  cp "$bundle/server.js" "$ctx/app/server.js"
  # The migrations in the three EF Core forms: SQL folder, idempotent script, bundle.
  cp "$SAMPLE_DIR/api/migrations/$version/"*.sql "$ctx/app/migrations/"
  node "$SAMPLE_DIR/api/idempotent-script.mjs" "$ctx/app/migrations" >"$ctx/app/migrations.sql" ||
    die "could not write the idempotent migration script of api:$version"
  cp "$bundle/efbundle.mjs" "$ctx/app/efbundle.mjs"
  cp "$SAMPLE_DIR/api/efbundle" "$ctx/app/efbundle"
  chmod 755 "$ctx/app/efbundle"
  chmod -R a+rX "$ctx/app"
  cp "$SAMPLE_DIR/api/Dockerfile" "$ctx/"
  echo "MIGRATIONS=$(migration_ids "$ctx/app/migrations")" >"$ctx/build-args"
}

client_inputs() {
  local version="$1"
  {
    echo "recipe $(sha256sum <"$IMAGES_RECIPE")"
    echo "version $version"
    describe_repo_files examples/sample-app/client
    describe_host_paths "$BUSYBOX"
  } | sha256sum | cut -d' ' -f1
}

stage_client() {
  local ctx="$1" version="$2" root="$1/rootfs"
  new_rootfs "$root"
  install_busybox "$root" "$BUSYBOX"
  mkdir -p "$ctx/www"
  sed "s/@VERSION@/$version/g" "$SAMPLE_DIR/client/index.html" >"$ctx/www/index.html"
  echo ok >"$ctx/www/health"
  echo "$version" >"$ctx/www/version"
  chmod -R a+rX "$ctx/www"
  cp "$SAMPLE_DIR/client/Dockerfile" "$ctx/"
}

# ---- build, push, verify ---------------------------------------------------------------------------------

# What this run built, for publish_images: "reference image-id input-hash" per entry.
BUILT=()

# build_if_changed COMPONENT TAG HASH STAGE_FUNCTION [STAGE_ARGS...]
build_if_changed() {
  local component="$1" tag="$2" hash="$3" stage="$4"
  shift 4
  local repo="rel-sample/$component" ref="$REGISTRY/rel-sample/$component:$tag" remote ctx log started=$SECONDS
  remote="$(registry_helper label "$repo" "$tag" "$INPUTS_LABEL")" ||
    die "could not read $ref from the registry (see the line above)"
  if [[ "$remote" == "$hash" ]]; then
    say "image $ref: up to date (inputs ${hash:0:12})"
    return 0
  fi
  if [[ -z "$remote" ]]; then
    say "image $ref: not in the registry; building"
  else
    say "image $ref: inputs changed (${remote:0:12} -> ${hash:0:12}); building"
  fi
  ctx="$BUILD_DIR/$component-$tag"
  log="$BUILD_DIR/$component-$tag.log"
  rm -rf "$ctx"
  mkdir -p "$ctx"
  "$stage" "$ctx" "$@"
  : >"$log"
  # The legacy builder: no BuildKit/buildx needed, and it handles FROM scratch + COPY of a staged rootfs.
  # api:v2 reuses the rootfs layer of api:v1 from its build cache (same for the clients).
  local build_args=(--label "$INPUTS_LABEL=$hash" -t "$ref")
  if grep -q '^ARG APP_VERSION' "$ctx/Dockerfile"; then build_args+=(--build-arg "APP_VERSION=$tag"); fi
  # More build arguments from the stage function: KEY=VALUE lines in build-args (not copied into the image).
  if [[ -f "$ctx/build-args" ]]; then
    local arg
    while IFS= read -r arg; do [[ -z "$arg" ]] || build_args+=(--build-arg "$arg"); done <"$ctx/build-args"
  fi
  if ! DOCKER_BUILDKIT=0 docker build --iidfile "$ctx.iid" "${build_args[@]}" "$ctx" >>"$log" 2>&1; then
    tail_log "$log"
    die "docker build of $ref failed (log: $log)"
  fi
  BUILT+=("$ref $(cat "$ctx.iid") $hash")
  rm -rf "$ctx" "$ctx.iid"
  say "image $ref: built in $((SECONDS - started)) s (inputs ${hash:0:12})"
}

# Push what was built; then prove that the registry serves it with the stored credentials (the ones of
# `docker login` in ~/.docker/config.json): drop the local tags and pull them again.
# Tests that run meanwhile may pull the same tag, which moves the local tag back to the registry's old image
# between build and push: so each push starts from the image id, and the registry's label is checked after.
publish_images() {
  local entry ref iid hash name log remote started=$SECONDS
  [[ ${#BUILT[@]} -gt 0 ]] || return 0
  say "images: pushing ${#BUILT[@]} images to $REGISTRY"
  for entry in "${BUILT[@]}"; do
    read -r ref iid hash <<<"$entry"
    name="$(basename "$ref")"
    log="$BUILD_DIR/${name/:/-}.log"
    for _ in 1 2 3; do
      docker tag "$iid" "$ref" >>"$log" 2>&1 || die "docker tag $iid $ref failed (was the image removed meanwhile?)"
      if ! docker push "$ref" >>"$log" 2>&1; then
        tail_log "$log"
        die "docker push of $ref failed (log: $log)"
      fi
      remote="$(registry_helper label "rel-sample/${name%%:*}" "${name#*:}" "$INPUTS_LABEL")" ||
        die "could not read $ref back from the registry"
      [[ "$remote" != "$hash" ]] || break
      say "images: the registry still has another $ref (inputs ${remote:0:12}; pulled meanwhile?); pushing again"
    done
    [[ "$remote" == "$hash" ]] || die "$ref in the registry keeps changing: does something else push it?"
  done
  for entry in "${BUILT[@]}"; do
    read -r ref iid hash <<<"$entry"
    docker rmi "$ref" >/dev/null 2>&1 || true
  done
  for entry in "${BUILT[@]}"; do
    read -r ref iid hash <<<"$entry"
    name="$(basename "$ref")"
    log="$BUILD_DIR/${name/:/-}.log"
    if ! docker pull "$ref" >>"$log" 2>&1; then
      tail_log "$log"
      die "pulling $ref back from the registry failed (log: $log)"
    fi
  done
  say "images: pushed and pulled back with credentials in $((SECONDS - started)) s"
}

build_images() {
  local bundle version hash
  mkdir -p "$BUILD_DIR"
  BUILT=()
  say "images: checking the sample images in $REGISTRY"
  collect_host_inputs
  hash="$(postgres_inputs)"
  build_if_changed postgres 15 "$hash" stage_postgres
  bundle="$(bundle_api)"
  for version in v1 v2 v3; do
    hash="$(api_inputs "$version" "$bundle")"
    build_if_changed api "$version" "$hash" stage_api "$version" "$bundle"
  done
  for version in v1 v2 v3; do
    hash="$(client_inputs "$version")"
    build_if_changed client "$version" "$hash" stage_client "$version"
  done
  publish_images
  # Images replaced by a rebuild stay behind untagged: remove those of ours.
  docker image prune -f --filter label=rel.sample=true >/dev/null 2>&1 || true
}
