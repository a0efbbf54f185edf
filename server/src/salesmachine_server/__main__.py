from salesmachine_server.cli import main

main()
