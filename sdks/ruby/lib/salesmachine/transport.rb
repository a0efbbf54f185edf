# frozen_string_literal: true

require 'json'
require 'net/http'
require 'openssl'
require 'time'
require 'zlib'
require 'salesmachine/errors'
require 'salesmachine/version'

module Salesmachine
  # One POST of one batch over a kept-alive connection, and what the answer means;
  # retrying is Sender's job. Used by the worker thread only, so it holds no lock.
  class Transport
    USER_AGENT = "salesmachine-ruby/#{VERSION} ruby/#{RUBY_VERSION}"
    # A server asking for more than this is misconfigured; waiting longer would look like a hang.
    MAX_RETRY_AFTER = 300.0
    # What "no answer" looks like from Net::HTTP: refused, reset, DNS, TLS, timeouts, a
    # connection closed mid-answer.
    NETWORK_ERRORS = [
      SystemCallError, IOError, SocketError, Timeout::Error, OpenSSL::SSL::SSLError,
      Net::HTTPBadResponse, Net::ProtocolError, Zlib::Error
    ].freeze

    # A success answer (2xx) and its JSON body ({} when it had none).
    Answer = Struct.new(:status, :body) do
      # Items the server refused while storing the rest (docs/wire.md, Answers).
      def rejected
        list = body['rejected']
        list.is_a?(Array) ? list.select { |entry| entry.is_a?(Hash) } : []
      end
    end

    # HTTP Basic: the token as user; as password the secret when given, else the token
    # again, which is what the legacy Ruby client sent and the server accepts.
    def self.basic_credentials(token, secret)
      [token, secret.nil? || secret.empty? ? token : secret]
    end

    def initialize(url, token, secret, timeout)
      @url = url
      @user, @password = self.class.basic_credentials(token, secret)
      @timeout = timeout
      @http = nil
    end

    # POST `body` (a JSON array). Returns an Answer; raises ApiError for an error status,
    # NetworkError when no answer came.
    def post(body)
      request = Net::HTTP::Post.new(@url.request_uri, headers)
      request.basic_auth(@user, @password)
      request.body = body
      response = connection.request(request)
      answer(response)
    rescue *NETWORK_ERRORS => e
      close
      raise NetworkError, "#{@url}: #{e.class}: #{e.message}"
    end

    def close
      @http&.finish if @http&.started?
    rescue IOError
      nil
    ensure
      @http = nil
    end

    # `Retry-After` as seconds: a number, or an HTTP date (RFC 9110 allows both).
    def self.retry_after_seconds(value, now = Time.now)
      return nil if value.nil? || value.strip.empty?

      text = value.strip
      seconds = if text.match?(/\A\d+(\.\d+)?\z/)
                  text.to_f
                else
                  begin
                    Time.httpdate(text) - now
                  rescue ArgumentError
                    return nil
                  end
                end
      seconds.clamp(0.0, MAX_RETRY_AFTER)
    end

    private

    def headers
      {
        'Content-Type' => 'application/json',
        'Accept' => 'application/json',
        'User-Agent' => USER_AGENT
      }
    end

    def connection
      return @http if @http&.started?

      http = Net::HTTP.new(@url.host, @url.port)
      http.use_ssl = @url.scheme == 'https'
      http.open_timeout = [@timeout, 5.0].min
      http.read_timeout = @timeout
      http.write_timeout = @timeout
      http.start
      @http = http
    end

    def answer(response)
      status = response.code.to_i
      body = parse(response.body)
      return Answer.new(status, body || {}) if status.between?(200, 299)

      # Our server sends error, code and message; older or foreign servers may send some.
      body ||= {}
      code = body['code'] || response.message.to_s.downcase.tr(' -', '__')
      message = body['message'] || body['error'] || response.body.to_s[0, 200].strip
      retry_after = self.class.retry_after_seconds(response['Retry-After'])
      raise ApiError.new(status, code.to_s, message.to_s, retry_after: retry_after, body: body)
    end

    def parse(text)
      return nil if text.nil? || text.empty?

      value = JSON.parse(text)
      value.is_a?(Hash) ? value : nil
    rescue JSON::ParserError
      nil
    end
  end
end
