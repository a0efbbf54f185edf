# frozen_string_literal: true

require 'date'
require 'json'
require 'securerandom'
require 'set'
require 'time'

module Salesmachine
  # Ruby values -> the JSON the server stores, and the timestamps the wire carries.
  #
  # Params are converted when the call is made, not when the batch is sent: a value JSON
  # cannot carry must fail in the caller's backtrace, naming the key, rather than later in
  # the background thread where nobody is looking.
  module Codec
    # Deeper than this is a cycle or a mistake.
    MAX_DEPTH = 100
    # The integers the server's JSON reader takes (64 bits, signed or not).
    MIN_INT = -(2**63)
    MAX_INT = (2**64) - 1

    module_function

    # `2013-01-01T00:00:00.000Z`: UTC with milliseconds, the form the API document uses.
    def timestamp(time)
      time.getutc.strftime('%Y-%m-%dT%H:%M:%S.%LZ')
    end

    def now
      timestamp(Time.now)
    end

    # A message's id: the server stores it and acknowledges a repeat without applying it
    # twice, which is what makes resending after a lost answer safe.
    def message_id
      SecureRandom.uuid
    end

    # `created_at` as the wire takes it. Time and DateTime keep their instant (sent in UTC);
    # a Date is that day at midnight UTC; an Integer is epoch seconds; a String must parse
    # as ISO-8601 and is normalised to UTC.
    def created_at(value)
      case value
      when Time then timestamp(value)
      when DateTime then timestamp(value.to_time)
      when Date then "#{value.iso8601}T00:00:00.000Z"
      when Integer then timestamp(Time.at(value))
      when String
        begin
          timestamp(Time.iso8601(value))
        rescue ArgumentError
          raise ArgumentError, "created_at must be an ISO-8601 time, got #{value.inspect}"
        end
      else
        raise ArgumentError, "created_at must be a Time, Date, ISO-8601 String or epoch Integer, got #{value.class}"
      end
    end

    # A copy of `value` made of Hash (string keys), Array, String, Integer, Float, true,
    # false and nil. Time -> ISO string in UTC; Date -> `YYYY-MM-DD`; Symbol -> String;
    # other Numerics (Rational, BigDecimal) -> Float. Anything else raises ArgumentError
    # naming `path`.
    def json_safe(value, path = 'params', depth = 0)
      case value
      when nil, true, false, String then value
      when Symbol then value.to_s
      when Integer then integer(value, path)
      when Float then finite(value, path)
      when Time then timestamp(value)
      when DateTime then timestamp(value.to_time)
      when Date then value.iso8601
      when Numeric then finite(value.to_f, path)
      when Hash, Array, Set
        raise ArgumentError, "#{path} is nested more than #{MAX_DEPTH} levels deep (is there a cycle?)" if depth >= MAX_DEPTH

        if value.is_a?(Hash)
          value.each_with_object({}) do |(key, item), out|
            out[key_string(key, path)] = json_safe(item, "#{path}[#{key.inspect}]", depth + 1)
          end
        else
          value.each_with_index.map { |item, index| json_safe(item, "#{path}[#{index}]", depth + 1) }
        end
      else
        raise ArgumentError, "#{path} is a #{value.class}, which JSON cannot carry " \
                             '(use a String, Numeric, true/false/nil, Time, Date, Hash or Array)'
      end
    end

    # One message as compact JSON; invalid UTF-8 in a String is an error here, at the call.
    def encode(message)
      JSON.generate(message)
    rescue JSON::GeneratorError, ::EncodingError => e
      raise ArgumentError, "message cannot be encoded as JSON: #{e.message}"
    end

    # The item's JSON with `"sent_at":"..."` added: stamped at each attempt, because the
    # server corrects the client's clock with it (occurred = received - (sent_at - created_at)).
    def stamp_sent_at(encoded, sent_at)
      "#{encoded[0...-1]},\"sent_at\":\"#{sent_at}\"}"
    end

    def key_string(key, path)
      case key
      when String then key
      when Symbol, Integer then key.to_s
      else raise ArgumentError, "#{path} has a #{key.class} key #{key.inspect}; keys must be Strings or Symbols"
      end
    end

    def integer(value, path)
      return value if value.between?(MIN_INT, MAX_INT)

      raise ArgumentError, "#{path} is #{value}, outside the 64-bit integers the server takes"
    end

    def finite(value, path)
      return value if value.finite?

      raise ArgumentError, "#{path} is #{value}, which JSON cannot carry"
    end
  end
end
