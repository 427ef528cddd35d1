# A Ruby (openssl extension) HTTPS responder for tests/py/test_unprofiled.py: VERIFY_PEER with
# FAIL_IF_NO_PEER_CERT against the CA, and the refusal status for a client whose CN is not the
# allowed one. No profile ships for it. Usage: ruby rubytls.rb PORT CERT KEY CA CN STATUS
require 'openssl'
require 'socket'
require 'timeout'

port, cert, key, ca, cn, status = ARGV
ctx = OpenSSL::SSL::SSLContext.new
ctx.cert = OpenSSL::X509::Certificate.new(File.read(cert))
ctx.key = OpenSSL::PKey.read(File.read(key))
ctx.ca_file = ca
ctx.verify_mode = OpenSSL::SSL::VERIFY_PEER | OpenSSL::SSL::VERIFY_FAIL_IF_NO_PEER_CERT
ctx.min_version = OpenSSL::SSL::TLS1_2_VERSION
tcp = TCPServer.new('127.0.0.1', port.to_i)
$stdout.sync = true
loop do
  sock = tcp.accept
  Thread.new(sock) do |s|
    begin
      Timeout.timeout(5) do
        ssl = OpenSSL::SSL::SSLSocket.new(s, ctx)
        ssl.accept
        head = +''
        head << ssl.readpartial(4096) until head.include?("\r\n\r\n")
        name = ssl.peer_cert.subject.to_a.find { |n, _, _| n == 'CN' }
        ok = name && name[1] == cn
        code = ok ? 200 : status.to_i
        body = ok ? "ok\n" : "forbidden\n"
        ssl.write("HTTP/1.1 #{code} #{ok ? 'OK' : 'Refused'}\r\nContent-Length: #{body.bytesize}\r\n" \
                  "Connection: close\r\n\r\n#{body}")
        ssl.close
      end
    rescue StandardError => e
      puts "connection: #{e.class}: #{e.message}"
    ensure
      s.close unless s.closed?
    end
  end
end
