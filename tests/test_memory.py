"""200 explain calls in a loop keep the peak RSS flat: sessions, graphs and gradients are freed."""

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, resource, torch
    from torch import nn
    from cam_widgets import CAMExplainer

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv3d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
        nn.Conv3d(16, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 12**3, 6),
    ).eval()
    explainer = CAMExplainer(model, layers=["4", "1"])

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def calls(n):
        for i in range(n):
            x = torch.randn(2, 1, 24, 24, 24)  # a new input each time: a new session
            explainer.explain(x, target=i % 6, method=("gradcam", "respondcam")[i % 2], layer=("4", "1")[i % 2])
            if i % 10 == 0:
                explainer.explain_all_classes(x, "gradcam++", "4")

    calls(20)
    after_warmup = peak_mb()
    calls(200)
    print(json.dumps({"warmup": after_warmup, "final": peak_mb()}))
    """
)


def test_peak_rss_flat_over_200_calls():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    peaks = json.loads(out.strip().splitlines()[-1])
    assert peaks["final"] <= 1.10 * peaks["warmup"], peaks
