# frozen_string_literal: true

require 'json'
require 'net/http'
require 'socket'

module SalesmachineTest
  # An HTTP proxy in front of the real server that can answer the next requests with chosen
  # errors, forward a request and then lose the answer, or hold requests while its gate is
  # closed. It records every request it saw. One request per connection (it answers
  # `Connection: close`), which the client's kept-alive connection handles by reconnecting.
  class FaultProxy
    Seen = Struct.new(:at, :path, :headers, :body, :status) do
      def items
        JSON.parse(body)
      end

      # [user, password] of the Basic Authorization header.
      def credentials
        header = headers['authorization'].to_s
        header.start_with?('Basic ') ? header.delete_prefix('Basic ').unpack1('m').split(':', 2) : nil
      end
    end

    # `drop`: forward the request, then close the connection without answering.
    # `body`: answer this body instead of the injected error's.
    Fault = Struct.new(:status, :retry_after, :drop, :body)

    attr_reader :seen

    def initialize(upstream_port)
      @upstream_port = upstream_port
      @seen = []
      @faults = []
      @lock = Mutex.new
      @gate_changed = ConditionVariable.new
      @open = true
      @server = TCPServer.new('127.0.0.1', 0)
      @acceptor = Thread.new { accept_loop }
      @acceptor.report_on_exception = false
    end

    def url
      "http://127.0.0.1:#{@server.addr[1]}"
    end

    def fail_next(count, status, retry_after: nil)
      @lock.synchronize { count.times { @faults << Fault.new(status, retry_after, false, nil) } }
    end

    def drop_next(count)
      @lock.synchronize { count.times { @faults << Fault.new(nil, nil, true, nil) } }
    end

    # Forward the next request as usual (to queue a fault after it).
    def pass_next
      @lock.synchronize { @faults << Fault.new(nil, nil, false, nil) }
    end

    def answer_next(status, body)
      @lock.synchronize { @faults << Fault.new(status, nil, false, JSON.generate(body)) }
    end

    # Requests wait at the gate (up to 30 s) while it is closed.
    def hold
      @lock.synchronize { @open = false }
    end

    def release
      @lock.synchronize do
        @open = true
        @gate_changed.broadcast
      end
    end

    def requests
      @lock.synchronize { @seen.dup }
    end

    def close
      release
      @server.close
      @acceptor.kill
    end

    private

    def accept_loop
      loop do
        socket = @server.accept
        Thread.new(socket) do |client|
          handle(client)
        rescue StandardError
          nil
        ensure
          client.close unless client.closed?
        end
      end
    rescue IOError, SystemCallError
      nil
    end

    def handle(client)
      request_line = client.gets or return
      method, path, = request_line.split(' ')
      headers = {}
      while (line = client.gets) && line != "\r\n"
        name, value = line.split(':', 2)
        headers[name.strip.downcase] = value.strip
      end
      body = client.read(headers.fetch('content-length', '0').to_i)
      seen = Seen.new(Process.clock_gettime(Process::CLOCK_MONOTONIC), path, headers, body, nil)
      fault = @lock.synchronize do
        @seen << seen
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 30
        @gate_changed.wait(@lock, 0.1) until @open || Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        @faults.shift
      end
      if fault.nil? || fault.status.nil?
        status, answer_headers, answer = forward(method, path, headers, body)
        if fault&.drop
          seen.status = :dropped
          return
        end
      else
        status = fault.status
        answer = fault.body || JSON.generate(error: 'injected', code: 'injected', message: "injected #{status}")
        answer_headers = { 'content-type' => 'application/json' }
        answer_headers['retry-after'] = fault.retry_after if fault.retry_after
      end
      seen.status = status
      respond(client, status, answer_headers, answer)
    end

    def forward(method, path, headers, body)
      Net::HTTP.start('127.0.0.1', @upstream_port, read_timeout: 30) do |http|
        wanted = headers.slice('content-type', 'authorization', 'user-agent')
        response = http.send_request(method, path, body, wanted)
        kept = {}
        %w[content-type retry-after www-authenticate].each { |name| kept[name] = response[name] if response[name] }
        [response.code.to_i, kept, response.body.to_s]
      end
    end

    def respond(client, status, headers, body)
      client.write("HTTP/1.1 #{status} Proxy\r\n")
      headers.each { |name, value| client.write("#{name}: #{value}\r\n") }
      client.write("Content-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}")
    end
  end
end
