# frozen_string_literal: true

module Salesmachine
  # Exponential backoff with jitter: retry n waits between half and all of
  # `min(cap, base * 2**n)` seconds, or what the server's Retry-After asks if that is longer.
  #
  # Half fixed, half random ("equal jitter") keeps clients that failed together from coming
  # back together, without ever retrying almost at once the way full jitter can.
  class Backoff
    attr_reader :base, :cap

    def initialize(base, cap, random: Random.new)
      @base = base
      @cap = cap
      @random = random
    end

    def delay(retry_number, retry_after = nil)
      ceiling = [cap, base * (2**[retry_number, 32].min)].min
      jittered = (ceiling / 2) + @random.rand(ceiling / 2)
      [jittered, retry_after || 0.0].max
    end
  end
end
