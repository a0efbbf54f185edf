# frozen_string_literal: true

require 'logger'
require 'uri'

module Salesmachine
  # The client's options, checked once at `Salesmachine::Api.new`.
  class Config
    # A self-hosted server on this machine: the gem never sends to the vendor's service
    # unless it is told to.
    DEFAULT_HOST = 'http://127.0.0.1:8080'
    # The server takes at most 2500 items and 5 MiB per batch, 64 KiB per item; batches are
    # kept well under so that one slow request does not hold many messages.
    MAX_BATCH_SIZE = 2500
    MAX_BATCH_BYTES = 500 * 1024
    MAX_MESSAGE_BYTES = 63 * 1024

    DEFAULTS = {
      api_secret: nil,
      host: nil,
      # The legacy gem's way to name the server: a bare host name, with :port and :ssl.
      port: nil,
      ssl: false,
      batch_size: 100,
      max_queue_size: 10_000,
      max_retries: 10,
      backoff_base: 0.5,
      backoff_cap: 30.0,
      timeout: 10.0,
      exit_timeout: 10.0,
      on_error: nil,
      logger: nil
    }.freeze

    attr_reader :api_key, :api_secret, :url, :batch_size, :max_queue_size, :max_retries,
                :backoff_base, :backoff_cap, :timeout, :exit_timeout, :on_error, :logger

    def initialize(options = {}, env: ENV)
      raise ArgumentError, "Salesmachine::Api.new takes a Hash of options, got #{options.class}" unless options.is_a?(Hash)

      options = options.transform_keys(&:to_sym)
      # `:api_token` is the document's word for the key ("YOUR_API_TOKEN").
      options[:api_key] ||= options.delete(:api_token)
      @api_key = options.delete(:api_key)
      raise ArgumentError, ':api_key (your project token) is required' unless @api_key.is_a?(String) && !@api_key.empty?

      # `stub` was a test switch of the legacy gem; it is accepted and has no effect.
      options.delete(:stub)
      unknown = options.keys - DEFAULTS.keys
      raise ArgumentError, "unknown option(s) #{unknown.map(&:inspect).join(', ')}" unless unknown.empty?

      values = DEFAULTS.merge(options)
      @api_secret = values[:api_secret]
      @url = self.class.batch_url(values[:host] || env['SALESMACHINE_HOST'] || DEFAULT_HOST,
                                  port: values[:port], ssl: values[:ssl])
      @batch_size = positive(values, :batch_size, Integer).clamp(1, MAX_BATCH_SIZE)
      @max_queue_size = positive(values, :max_queue_size, Integer)
      @max_retries = values[:max_retries]
      raise ArgumentError, ':max_retries must be an Integer >= 0' unless @max_retries.is_a?(Integer) && @max_retries >= 0

      @backoff_base = positive(values, :backoff_base, Numeric).to_f
      @backoff_cap = positive(values, :backoff_cap, Numeric).to_f
      @timeout = positive(values, :timeout, Numeric).to_f
      @exit_timeout = values[:exit_timeout].to_f
      @on_error = values[:on_error]
      raise ArgumentError, ':on_error must respond to call' unless @on_error.nil? || @on_error.respond_to?(:call)

      @logger = values[:logger] || Logger.new($stderr, level: Logger::WARN, progname: 'salesmachine')
    end

    # `{host}/v1/batch`. The host is a URL (`https://sm.example.com`, `http://127.0.0.1:8080`,
    # with a path prefix when the server sits behind one). A bare `host` or `host:port` is
    # http, or https with `ssl: true`; `port:` sets the port of a host given without one.
    def self.batch_url(host, port: nil, ssl: false)
      text = host.to_s.strip.chomp('/')
      text = "#{ssl ? 'https' : 'http'}://#{text}" unless text.match?(%r{\A[a-z][a-z0-9+.-]*://}i)
      uri = URI.parse("#{text}/v1/batch")
      if port
        raise ArgumentError, ":port must be an Integer, got #{port.inspect}" unless port.is_a?(Integer)

        uri.port = port if uri.port == uri.default_port && !text.match?(%r{://[^/]*:\d+})
      end
      raise ArgumentError, "host must be an http or https URL, got #{host.inspect}" unless uri.is_a?(URI::HTTP) && uri.host && !uri.host.empty?

      uri
    rescue URI::InvalidURIError
      raise ArgumentError, "host must be an http or https URL, got #{host.inspect}"
    end

    private

    def positive(values, key, type)
      value = values[key]
      raise ArgumentError, ":#{key} must be a positive #{type}, got #{value.inspect}" unless value.is_a?(type) && value.positive?

      value
    end
  end
end
