"""The console: the web app people open (member, peer, responder); a backend-for-frontend."""

from services.console.main import main

main()
