from gailrun.cli import main

main()
