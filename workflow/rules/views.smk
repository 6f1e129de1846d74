# Views a reader can turn, of every plane slice (two axes) in slices.directions:
#   results/views/{dataset}/{arch}/{direction}.html   3-D surface per replica (plotly, offline)
#   results/views/{dataset}/{arch}/{direction}.vts    VTK structured grid for ParaView
#   results/views/{dataset}/{arch}/{direction}.json   axes' meaning, units, replicas of both


rule views_plane:
    input:
        "results/slices/{dataset}/{arch}/{direction}.nc",
    output:
        html=report(
            "results/views/{dataset}/{arch}/{direction}.html",
            caption="../report/views_plane.rst",
            category="Loss-landscape views",
            subcategory="{dataset} / {arch}",
            labels={
                "dataset": "{dataset}",
                "architecture": "{arch}",
                "plane": "{direction}",
            },
        ),
        vts="results/views/{dataset}/{arch}/{direction}.vts",
        meta="results/views/{dataset}/{arch}/{direction}.json",
    log:
        "results/logs/views/{dataset}/{arch}/{direction}.log",
    benchmark:
        "results/benchmarks/views/{dataset}/{arch}/{direction}.tsv"
    wildcard_constraints:
        direction="|".join(plane_directions()),
    localrule: True
    conda:
        "../envs/statmech.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=10,
    params:
        library=library("scripts/views.py"),
        made_from=made_from,
    script:
        "../../scripts/views.py"
