// Tiny static helpers baked into the e2e images (stdlib only).
module netdoctor.local/e2e/images

go 1.22
