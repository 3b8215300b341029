"""Wire tests: the client against real sockets on 127.0.0.1, scripted request by request."""
