#!/bin/sh
# Make the certificates the TLS tests use, in DIR (created; files replaced). Needs the
# openssl command. EC P-256 keys: quick to make and to use.
#
#   ca.pem, ca.key             a private CA ("curio test CA")
#   other-ca.pem               an unrelated CA, trusted by nothing
#   inter.pem, inter.key       an intermediate CA signed by ca
#   server.pem, server.key     "localhost", 127.0.0.1 and ::1, signed by ca
#   chain.pem                  a leaf for the same names signed by inter, then inter
#                              (a certificate chain); its key: server.key
#   leaf-only.pem              that leaf without inter
#   wronghost.pem              for "other.example" only, signed by ca (key: server.key)
#   expired.pem                "localhost", signed by ca, expired a day ago
#   selfsigned.pem             "localhost", signed by its own key (server.key)
#   client.pem, client.key     a client certificate signed by ca
#   combined.pem               server.pem followed by server.key (one file)
#   names-*.pem                the host-name matrix of test_tls_names.c, signed by ca (key:
#                              server.key): names-CASE.pem has the subject and names below
#   done                       written last: the set is complete
#
# usage: tls_certs.sh DIR
set -eu
dir=$1
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.make.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
q() { "$@" >/dev/null 2>&1 || { echo "tls_certs.sh: $* failed" >&2; "$@"; exit 1; }; }
key() { q openssl ecparam -name prime256v1 -genkey -noout -out "$1"; }
ca() { # name subject [signer-cert signer-key]
    key "$1.key"
    if [ $# -eq 2 ]; then
        q openssl req -x509 -new -key "$1.key" -sha256 -days 30 -subj "$2" -out "$1.pem" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign"
    else
        q openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
        printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' \
            >"$1.ext"
        q openssl x509 -req -in "$1.csr" -CA "$3" -CAkey "$4" -CAcreateserial -days 30 \
            -sha256 -extfile "$1.ext" -out "$1.pem"
    fi
}
leaf() { # out key days san usage signer-cert signer-key
    q openssl req -new -key "$2" -subj "/CN=curio test" -out "$1.csr"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' "$4" "$5" \
        >"$1.ext"
    q openssl x509 -req -in "$1.csr" -CA "$6" -CAkey "$7" -CAcreateserial -days "$3" \
        -sha256 -extfile "$1.ext" -out "$1.pem"
}
names="DNS:localhost,IP:127.0.0.1,IP:::1"
ca ca "/CN=curio test CA"
ca other-ca "/CN=another CA"
ca inter "/CN=curio test intermediate CA" ca.pem ca.key
key server.key
key client.key
leaf server server.key 30 "$names" serverAuth ca.pem ca.key
leaf leaf-only server.key 30 "$names" serverAuth inter.pem inter.key
cat leaf-only.pem inter.pem >chain.pem
leaf wronghost server.key 30 "DNS:other.example" serverAuth ca.pem ca.key
leaf expired server.key -1 "$names" serverAuth ca.pem ca.key
leaf client client.key 30 "DNS:client.example" clientAuth ca.pem ca.key
q openssl req -x509 -new -key server.key -sha256 -days 30 -subj "/CN=localhost" \
    -addext "subjectAltName=$names" -out selfsigned.pem
cat server.pem server.key >combined.pem
named() { # case subject [san]
    q openssl req -new -key server.key -subj "$2" -out "names-$1.csr"
    { if [ $# -eq 3 ]; then printf 'subjectAltName=%s\n' "$3"; fi
      printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'; } >"names-$1.ext"
    q openssl x509 -req -in "names-$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -sha256 -extfile "names-$1.ext" -out "names-$1.pem"
}
named star "/CN=curio test" "DNS:*"
named partial "/CN=curio test" "DNS:l*"
named partial-label "/CN=curio test" "DNS:w*.curio.test"
named middle "/CN=curio test" "DNS:a.*.localhost"
named ip-star "/CN=curio test" "DNS:*.0.0.1"
named short-star "/CN=curio test" "DNS:*.localhost"
named wild "/CN=curio test" "DNS:*.curio.test"
named upper "/CN=curio test" "DNS:LocalHost"
named dns-ip "/CN=curio test" "DNS:127.0.0.1,DNS:::1"
named ip4 "/CN=curio test" "IP:127.0.0.1"
named ip6 "/CN=curio test" "IP:::1"
named cn "/O=curio/CN=localhost"
named cn-ip "/CN=127.0.0.1"
named cn-wild "/CN=*.curio.test"
named cn-dns "/CN=localhost" "DNS:other.example"
named cn-ipsan "/CN=localhost" "IP:127.0.0.1"
named cn-uri "/CN=localhost" "URI:https://localhost/"
mv names-*.pem "$dir/"
for f in ca.pem ca.key other-ca.pem inter.pem inter.key server.pem server.key chain.pem \
    leaf-only.pem wronghost.pem expired.pem selfsigned.pem client.pem client.key \
    combined.pem; do
    mv "$f" "$dir/$f"
done
date +%s >"$dir/done"
