# Helpers shared by the registration sidecars' scripts, which source this file from the
# directory they run from (their ConfigMap carries it next to them). POSIX sh: dash, busybox
# ash. The sourcing script defines die(), which prints its message and exits 2.

# POD_NAME and POD_IP come from the downward API (metadata.name, status.podIP). They go into
# etcd keys, JSON and URLs, so only their plain forms pass.
check_pod_identity() {
  case ${POD_NAME:-} in
    '' | *[!a-z0-9.-]* | [!a-z0-9]* | *[!a-z0-9]) die "POD_NAME='${POD_NAME:-}' is not a pod name (DNS-1123 subdomain); set it from the downward API field metadata.name" ;;
  esac
  [ ${#POD_NAME} -le 253 ] || die "POD_NAME is longer than 253 characters"
  case ${POD_IP:-} in
    '' | *[!0-9A-Fa-f:.]*) die "POD_IP='${POD_IP:-}' is not an IP address; set it from the downward API field status.podIP" ;;
    *:*:*) ;;
    *[!0-9.]* | *.*.*.*.* | *..* | .* | *.) die "POD_IP='$POD_IP' is not an IPv4 address" ;;
    *.*.*.*) ;;
    *) die "POD_IP='$POD_IP' is not an IP address" ;;
  esac
  [ ${#POD_IP} -le 45 ] || die "POD_IP is longer than 45 characters"
}

# require_count NAME VALUE: VALUE (of the variable NAME) must be a whole number >= 1.
require_count() {
  case $2 in
    '' | *[!0-9]* | 0*) die "$1='$2' is not a whole number >= 1" ;;
  esac
}

# tags_json NAME VALUE: prints the comma-separated RFC 1123 labels in VALUE as a JSON array.
tags_json() {
  json='' rest=$2
  while [ -n "$rest" ]; do
    tag=${rest%%,*}
    case $tag in
      '' | *[!a-z0-9-]* | -* | *-) die "$1='$2': '$tag' is not a tag (an RFC 1123 label)" ;;
    esac
    json="$json${json:+,}\"$tag\""
    case $rest in *,*) rest=${rest#*,} ;; *) rest='' ;; esac
  done
  printf '[%s]' "$json"
}
