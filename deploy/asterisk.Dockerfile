# Asterisk for the hotline, configured from the repo's asterisk/ templates.
# Build from the repo root: docker build -f deploy/asterisk.Dockerfile .
# Asterisk is not in Debian stable: sid carries Asterisk 22.
FROM debian:sid
RUN apt-get -o Acquire::Check-Valid-Until=false update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      asterisk gettext-base curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*

COPY asterisk/ /usr/local/share/unsubivr/asterisk/
COPY scripts/asterisk-render-config /usr/local/bin/asterisk-render-config
COPY deploy/asterisk-entrypoint.sh /usr/local/bin/asterisk-entrypoint.sh

# Prompts come from a volume shared with the unsubivr service:
# /var/lib/unsubivr/sounds/unsubivr/<lang>/<id>.* plays as sound:unsubivr/<lang>/<id>.
RUN mkdir -p /var/lib/unsubivr/sounds \
 && ln -sfn /var/lib/unsubivr/sounds/unsubivr /usr/share/asterisk/sounds/unsubivr

# Rendered into asterisk/*.conf at start. ARI listens on all interfaces of
# the container but is not published (compose network only). Passwords
# (UNSUB_ARI_PASSWORD, UNSUB_TESTER_PASSWORD, UNSUB_TESTAGENT_PASSWORD) must
# come from the environment.
ENV UNSUB_ARI_USER=unsubivr \
    UNSUB_HTTP_BIND=0.0.0.0 UNSUB_HTTP_PORT=8088 \
    UNSUB_SIP_BIND=0.0.0.0:5060 \
    UNSUB_RTP_START=10000 UNSUB_RTP_END=10100 \
    UNSUB_SIPP_ENDPOINT=no \
    UNSUB_AST_ETC_DIR=/etc/asterisk UNSUB_AST_VARLIB_DIR=/var/lib/asterisk \
    UNSUB_AST_DATA_DIR=/usr/share/asterisk UNSUB_AST_SPOOL_DIR=/var/spool/asterisk \
    UNSUB_AST_RUN_DIR=/var/run/asterisk UNSUB_AST_LOG_DIR=/var/log/asterisk \
    UNSUB_AST_CACHE_DIR=/var/cache/asterisk

EXPOSE 5060/udp 10000-10100/udp
HEALTHCHECK --interval=5s --timeout=3s --retries=12 \
  CMD curl -fsS -o /dev/null -u "$UNSUB_ARI_USER:$UNSUB_ARI_PASSWORD" http://127.0.0.1:8088/ari/asterisk/info || exit 1
ENTRYPOINT ["/usr/local/bin/asterisk-entrypoint.sh"]
