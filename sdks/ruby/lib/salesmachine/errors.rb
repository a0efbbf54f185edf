# frozen_string_literal: true

module Salesmachine
  # Raised by the network layer; the worker turns it into retries, then into on_error.
  class Error < StandardError
    # The HTTP status (-1 when no answer came, as the legacy gem reported it).
    def status
      -1
    end

    def retryable?
      false
    end
  end

  # No answer: refused, reset, timed out, cut short. The batch may or may not have been
  # stored, so it is sent again with the same messageIds and the server drops the repeats.
  class NetworkError < Error
    def retryable?
      true
    end
  end

  # The server answered with an error status.
  class ApiError < Error
    attr_reader :status, :code, :retry_after, :body

    def initialize(status, code, message, retry_after: nil, body: nil)
      super("#{status} #{code}: #{message}")
      @status = status
      @code = code
      @retry_after = retry_after
      @body = body
    end

    # 408, 429 and 5xx are the server's (or a proxy's) passing trouble; any other 4xx says
    # the batch itself is wrong and sending it again would get the same answer.
    def retryable?
      status == 408 || status == 429 || status >= 500
    end
  end

  # A 201 that names items the server refused while storing the rest of the batch.
  class RejectedItems < Error
    attr_reader :rejected

    def initialize(rejected)
      super(rejected.map { |r| "item #{r['index']}: #{r['message'] || r['code']}" }.join('; '))
      @rejected = rejected
    end

    def status
      201
    end
  end
end
