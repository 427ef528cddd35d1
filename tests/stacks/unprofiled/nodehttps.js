// A Node.js https service for tests/py/test_unprofiled.py: it requires a client certificate that
// chains to the CA (rejectUnauthorized) and answers the refusal status to a client whose CN is not
// the allowed one. No profile ships for it. Usage: node nodehttps.js PORT CERT KEY CA CN STATUS
'use strict';
const fs = require('fs');
const https = require('https');
const [port, cert, key, ca, cn, status] = process.argv.slice(2);
const server = https.createServer({
  cert: fs.readFileSync(cert), key: fs.readFileSync(key), ca: fs.readFileSync(ca),
  requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
  handshakeTimeout: 5000,
}, (req, res) => {
  const peer = req.socket.getPeerCertificate();
  const ok = peer && peer.subject && peer.subject.CN === cn;
  res.writeHead(ok ? 200 : Number(status), {'Connection': 'close'});
  res.end(ok ? 'ok\n' : 'forbidden\n');
});
server.on('tlsClientError', (err) => console.log(`tls: ${err.code || err.message}`));
server.listen(Number(port), '127.0.0.1');
