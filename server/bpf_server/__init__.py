"""bpf_server: the GraphQL API (strawberry on Starlette, served by uvicorn) and the web page."""
