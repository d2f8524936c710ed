#!/bin/sh
# How leaf.der and intermediate.der were made (once; the keys were thrown away).
# The generator embeds the two DER certificates in every TLS 1.2 Certificate message.
set -eu
openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 7300 \
  -subj "/C=US/O=Vigil Test Trust/CN=Vigil Test Root CA R1" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr \
  -subj "/C=US/O=Vigil Test Trust/CN=Vigil Test TLS CA 2026"
printf "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\nextendedKeyUsage=serverAuth,clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" > int.ext
openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -set_serial 0x4a1f22c0de -days 3650 -sha256 -extfile int.ext -out int.pem
openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr \
  -subj "/C=US/ST=California/L=San Francisco/O=Example Services Inc/CN=*.cdn.example.net"
printf "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName=DNS:*.cdn.example.net,DNS:cdn.example.net,DNS:*.example.com,DNS:example.com,DNS:*.example.org,DNS:www.example.org,DNS:api.example.io\nauthorityInfoAccess=OCSP;URI:http://ocsp.example-trust.net,caIssuers;URI:http://crt.example-trust.net/tlsca2026.crt\ncrlDistributionPoints=URI:http://crl.example-trust.net/tlsca2026.crl\ncertificatePolicies=2.23.140.1.2.2\n" > leaf.ext
openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -set_serial 0x0c7e5d1b9a33f0 -days 397 -sha256 -extfile leaf.ext -out leaf.pem
openssl x509 -in leaf.pem -outform DER -out leaf.der
openssl x509 -in int.pem -outform DER -out intermediate.der
rm -f root.key int.key leaf.key ./*.csr ./*.ext ./*.pem ./*.srl
