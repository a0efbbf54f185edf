# frozen_string_literal: true

module Salesmachine
  # 1.0.x: the API document installs the gem with `gem 'salesmachine-ruby', '~> 1.0.0'`.
  VERSION = '1.0.0'
end
