"""HTTP endpoints: each reads the request, calls the logic, writes the response. No OAuth logic."""
