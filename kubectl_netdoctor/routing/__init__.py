"""Everything the tool knows about routing a URL through an Ingress or a Gateway, in one place.

- :mod:`.urls`: the URL a user pastes, read as the request a client sends for it.
- :mod:`.hosts`: host matching, Ingress style (``*.`` = one label) and Gateway API style
  (``*.`` = any suffix), and the listener x route hostname intersection.
- :mod:`.pathmatch`: ``Exact`` and (element-wise) ``Prefix`` paths, and why a path misses.
- :mod:`.ingress`: which Ingress rule of which class serves a URL, and the near misses.
- :mod:`.gateway`: parentRefs, listeners, allowedRoutes, attachment, backendRefs and the status
  the controllers wrote (Gateway, listeners, route parents).
- :mod:`.httproute`: which HTTPRoute rule serves a URL on a Gateway, by the API's precedence.
- :mod:`.conditions`: ``metav1.Condition`` lists with their staleness.
- :mod:`.refgrants`: whether a ReferenceGrant allows a cross-namespace reference.
- :mod:`.tls`: the certificate of a TLS Secret: its names, its dates, its key.
- :mod:`.controllers`: which pods run the controller an IngressClass or GatewayClass names.

No I/O here, no Kubernetes client, no printing: objects are ``kubectl get -o json`` dicts passed
in, results are frozen dataclasses; the checks word the findings.
"""
