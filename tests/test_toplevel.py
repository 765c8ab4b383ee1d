import workbench as wb


def test_public_surface_is_small_and_complete() -> None:
    assert sorted(wb.__all__) == sorted(
        [
            "RESULT_COLUMNS",
            "AssertionTask",
            "ColumnsError",
            "Criterion",
            "DataError",
            "EvaluationError",
            "JudgeParseError",
            "JudgeTask",
            "MissingDependencyError",
            "Run",
            "SpecError",
            "SpecWarning",
            "Suite",
            "WorkbenchError",
            "__version__",
            "estimate",
            "evaluate",
            "evaluate_async",
            "load_dataset",
            "load_traces",
            "CompareError",
            "Comparison",
            "ConfigError",
            "JudgeConfig",
            "NotebookError",
            "ReportError",
            "StoreError",
            "StoreWarning",
            "UnknownRunError",
            "UnknownTaskError",
            "compare",
            "Store",
            "delete_run",
            "load_run",
            "runs",
            "Workbench",
            "Agreement",
            "AgreementError",
            "agreement",
            "save_labels",
            "load_labels",
            "consistency",
            "PairwiseTask",
            "Labeler",
            "Monitor",
            "MonitorView",
            "monitor_results",
            "BatchOptions",
            "resume",
        ]
    )
    for name in wb.__all__:
        assert hasattr(wb, name), name


def test_core_does_not_import_notebook_layers() -> None:
    import subprocess
    import sys

    code = (
        "import sys, workbench; "
        "print(sorted(m for m in ('altair', 'ipywidgets', 'litellm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    lazy = (
        "import sys, workbench as wb; wb.charts; print('altair' in sys.modules, 'ipywidgets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", lazy], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]  # wb.charts loads altair on first use, widgets stay out


def test_errors_keep_builtin_bases() -> None:
    assert issubclass(wb.SpecError, ValueError)
    assert issubclass(wb.ColumnsError, ValueError)
    assert issubclass(wb.MissingDependencyError, ImportError)
