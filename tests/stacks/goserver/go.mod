module mtls-harness/tests/stacks/goserver

go 1.19
