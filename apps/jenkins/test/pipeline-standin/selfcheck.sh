#!/bin/sh
# Self-check of the Jenkins pipeline stand-in: runs examples/*.groovy through run-pipeline.groovy
# and asserts on their result files and console logs (see selfcheck.groovy). Needs `groovy` (2.4+).
set -e
here="$(cd "$(dirname "$0")" && pwd)"
exec groovy "$here/selfcheck.groovy" "$@"
