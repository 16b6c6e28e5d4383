"""One repository per aggregate; methods are named for the question they answer."""
