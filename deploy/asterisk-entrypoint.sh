#!/usr/bin/env bash
# Container entrypoint: render asterisk/ (baked in at /usr/local/share/unsubivr/asterisk)
# into /etc/asterisk from the environment, then run Asterisk in the foreground.
set -euo pipefail
export UNSUB_AST_MOD_DIR=${UNSUB_AST_MOD_DIR:-$(ls -d /usr/lib/*/asterisk/modules | head -n1)}
/usr/local/bin/asterisk-render-config /usr/local/share/unsubivr/asterisk /etc/asterisk
chgrp -R asterisk /etc/asterisk
exec asterisk -f -U asterisk -G asterisk "$@"
