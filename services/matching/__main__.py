from services.matching.main import main

main()
