#!/bin/bash
# Healthy when the registry answers GET /v2/ with 200. Plain bash: the image has no HTTP client.
exec 3<>/dev/tcp/127.0.0.1/5000
printf 'GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r _ status _ <&3
[ "$status" = 200 ]
