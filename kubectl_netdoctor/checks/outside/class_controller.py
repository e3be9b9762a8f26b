"""Outside-in hop 2 (``class``): which controller serves the target, and does it run?

An Ingress's class (``spec.ingressClassName``, the legacy annotation, or the default
IngressClass) names a controller; an HTTPRoute's Gateway names a GatewayClass, which a
controller claims by setting ``Accepted=True``. The controller's pods are found through the
table of known controllers (:mod:`kubectl_netdoctor.routing.controllers`); a controller not in it
is reported as not verified, never as broken.
"""

from __future__ import annotations

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, Obj, conclude, finding, fix_text, skipped
from kubectl_netdoctor.checks.outside import view
from kubectl_netdoctor.checks.service import near_names
from kubectl_netdoctor.model import Finding, StepResult
from kubectl_netdoctor.routing import conditions as cond
from kubectl_netdoctor.routing.controllers import KNOWN
from kubectl_netdoctor.routing.ingress import CLASS_ANNOTATION

STEP_ID = "class"
TITLE = "Its class has a running controller"


def _pod_line(pod: Obj) -> str:
    ready = "Ready" if objects.pod_ready(pod) else f"not Ready ({objects.not_ready_reason(pod)})"
    return f"pod {objects.ref(pod)} on {objects.pod_node(pod) or '?'}: {ready}"


def controller_findings(ctx: Context) -> tuple[list[Finding], str, str | None]:
    """The controller's pods: findings, a summary, and the reason it is not verified (unknown controller, or
    its pods may not be listed)."""
    c = view.controller(ctx)
    if c.name is None:
        return [], "no controller named", None
    if c.refused:
        return [], f"controller {c.name}", c.refused
    if c.known is None:
        return ([finding("CLASS_CONTROLLER_UNKNOWN",
                         f"controller {c.name} is not one this tool knows how to find: whether it runs is not verified",
                         [f"known controllers: {', '.join(k.controller for k in KNOWN)}"],
                         "check its pods by hand (kubectl get pods -A | grep -i <controller>)")],
                f"controller {c.name}", f"controller {c.name} is unknown to this tool: whether it runs is not verified")
    product = c.known.product
    selectors = " or ".join(c.known.selectors)
    if not c.pods:
        notes = list(c.notes)
        return ([finding(
            "CLASS_CONTROLLER_NOT_RUNNING",
            f"no {product} pod runs (controller {c.name}): nothing serves the {ctx.kind}",
            [f"kubectl get pods -A -l {selectors}: none", *notes],
            fix_text(f"install or start {product}; where its Deployment should be:",
                     f"kubectl get deploy -A -l {c.known.selectors[0]}"))],
            f"{product}: no pod", None)
    ready = c.ready
    lines = [_pod_line(p) for p in c.pods[:5]]
    if not ready:
        pod = c.pods[0]
        return ([finding(
            "CLASS_CONTROLLER_NOT_READY",
            f"none of the {len(c.pods)} {product} pod(s) is Ready: the controller does not serve",
            lines,
            fix_text("why:", f"kubectl -n {pod['metadata'].get('namespace')} describe pod {pod['metadata']['name']}"))],
            f"{product}: 0/{len(c.pods)} Ready", None)
    return [], f"{product}: {len(ready)}/{len(c.pods)} pod(s) Ready", None


def run(ctx: Context) -> StepResult:
    obj = view.target(ctx)
    if obj is None:
        return skipped(STEP_ID, TITLE, f"{view.target_text(ctx)} does not exist")
    if ctx.kind == "HTTPRoute":
        return _gateway_classes(ctx)
    return _ingress_class(ctx, obj)


def _ingress_class(ctx: Context, obj: Obj) -> StepResult:
    choice = view.ingress_class(ctx)
    found: list[Finding] = []
    edit = f"kubectl -n {ctx.namespace} edit ingress {ctx.name}"
    if choice.source == "none":
        found.append(finding("CLASS_NOT_SET", f"Ingress {ctx.namespace}/{ctx.name} names no class and no single "
                             "IngressClass is the default: only a controller that takes Ingresses without a class "
                             "serves it", list(choice.notes),
                             fix_text("set spec.ingressClassName to the class of your controller:",
                                      "kubectl get ingressclass", edit)))
        return conclude(STEP_ID, TITLE, found, "no class", unverified="no class: no controller to look for")
    if choice.source == "annotation":
        found.append(finding("CLASS_ANNOTATION_DEPRECATED", f"the class {choice.name} is set by the annotation "
                             f"{CLASS_ANNOTATION}, which is deprecated", list(choice.notes),
                             f"set spec.ingressClassName: {choice.name} instead ({edit})"))
    elif choice.source == "default":
        found.append(finding("CLASS_DEFAULT_USED", f"no class is set: IngressClass {choice.name} is the default",
                             list(choice.notes), f"set spec.ingressClassName: {choice.name} to say so ({edit})"))
    if not choice.exists and choice.source != "annotation":
        names = sorted(c["metadata"]["name"] for c in view.ingress_classes(ctx))
        near = near_names(choice.name or "", names)
        found.append(finding(
            "CLASS_NOT_FOUND",
            f"IngressClass {choice.name} does not exist: no controller serves the Ingress"
            + (f" (did you mean {', '.join(near)}?)" if near else ""),
            [f"spec.ingressClassName: {choice.name}", f"IngressClasses: {', '.join(names) or 'none'}"],
            fix_text(f"set spec.ingressClassName to one of the IngressClasses ({', '.join(names) or 'none exists'}):",
                     edit)))
        return conclude(STEP_ID, TITLE, found, f"IngressClass {choice.name} missing")
    controller = choice.controller or view.controller_name(ctx)
    if controller is None:  # the annotation names a class with no IngressClass, and no controller we know by it
        return conclude(STEP_ID, TITLE, found, f"class {choice.name} (annotation)",
                        unverified=f"no IngressClass {choice.name}: its controller is not known")
    more, summary, unverified = controller_findings(ctx)
    what = (f"IngressClass {choice.name}" if choice.controller else
            f"class {choice.name} (annotation, no IngressClass: the class name {controller} answers to)")
    return conclude(STEP_ID, TITLE, found + more, f"{what} -> {controller}; {summary}",
                    unverified=unverified, blocked=view.controller(ctx).refused is not None)


def _gateway_classes(ctx: Context) -> StepResult:
    gateways = view.gateways(ctx)
    if not gateways:
        return skipped(STEP_ID, TITLE, "no Gateway of the route exists (see listener)")
    chosen = view.chosen_gateway(ctx)
    found: list[Finding] = []
    summaries = []
    for gateway in [chosen] if chosen is not None else gateways:
        name = (gateway.get("spec") or {}).get("gatewayClassName") or ""
        klass = view.gateway_class(ctx, gateway)
        if klass is None:
            names = sorted(c["metadata"]["name"] for c in view.soft(lambda: view.listed(ctx, "GatewayClass"), []))
            near = near_names(name, names)
            found.append(finding(
                "CLASS_NOT_FOUND",
                f"GatewayClass {name} of Gateway {objects.ref(gateway)} does not exist: no controller serves it"
                + (f" (did you mean {', '.join(near)}?)" if near else ""),
                [f"spec.gatewayClassName: {name}", f"GatewayClasses: {', '.join(names) or 'none'}"],
                fix_text("point the Gateway at an existing GatewayClass:",
                         f"kubectl -n {gateway['metadata'].get('namespace')} edit gateway {gateway['metadata']['name']}")))
            summaries.append(f"GatewayClass {name} missing")
            continue
        found += _accepted(klass)
        summaries.append(f"GatewayClass {name} -> {(klass.get('spec') or {}).get('controllerName') or '?'}")
    unverified = None
    if not any(f.code == "CLASS_NOT_FOUND" for f in found):
        more, summary, unverified = controller_findings(ctx)
        found += more
        summaries.append(summary)
    return conclude(STEP_ID, TITLE, found, "; ".join(summaries), unverified=unverified,
                    blocked=unverified is not None and view.controller(ctx).refused is not None)


def _accepted(klass: Obj) -> list[Finding]:
    conditions = cond.read_conditions((klass.get("status") or {}).get("conditions"), cond.generation_of(klass))
    accepted = cond.find(conditions, "Accepted")
    name = klass["metadata"]["name"]
    controller = (klass.get("spec") or {}).get("controllerName") or "?"
    if accepted is None or not accepted.is_true:
        shown = accepted.text if accepted else "no Accepted condition"
        return [finding(
            "CLASS_GATEWAYCLASS_NOT_ACCEPTED",
            f"GatewayClass {name} is not Accepted ({shown.split(':')[0]}): its controller {controller} has not "
            "claimed it, so no Gateway of the class is served",
            [f"GatewayClass {name}: {shown}"],
            fix_text(f"the controller named {controller} must run and accept it; what it says:",
                     f"kubectl describe gatewayclass {name}"))]
    if accepted.stale:
        return [finding("CLASS_STATUS_STALE", f"GatewayClass {name}'s status is for an older generation: the "
                        "controller has not caught up with its spec", [f"GatewayClass {name}: {accepted.text}"],
                        f"kubectl describe gatewayclass {name}")]
    return []
