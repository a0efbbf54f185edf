# frozen_string_literal: true

# Bundler requires a gem by its name, `salesmachine-ruby`; the API document requires
# 'salesmachine'. Both load the same library.
require 'salesmachine'
