"""nbgrader configuration of the LoRA Study Jam course (for instructors; students never need nbgrader).

Layout (see docs/INSTRUCTORS.md):
- nbgrader *source* notebooks: ``solutions/<assignment>/<assignment>.ipynb`` (with solutions and hidden tests);
- student versions: flat files ``labs/<lab>.ipynb`` and ``quizzes/<quiz>.ipynb``, written by ``lorajam release``
  (nbgrader ``generate_assignment`` into a scratch course, then flattened; nbgrader's own ``release/<a>/``
  layout cannot be flat, so plain ``nbgrader generate_assignment`` here writes to ``grading/release/``);
- grading: ``grading/`` (git-ignored) holds ``gradebook.db``, ``submitted/``, ``autograded/``, ``feedback/``;
  ``lorajam grade`` fills it, and this file lets plain nbgrader commands run from the repository root
  (``nbgrader formgrader``, ``nbgrader export``, ``nbgrader generate_feedback``) see the same course.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

_repo = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "lora-study-jam"
c.CourseDirectory.root = os.path.join(_repo, "grading")
c.CourseDirectory.source_directory = os.path.join(_repo, "solutions")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_repo, "grading", "gradebook.db")
# Lab 1's training cell takes about a minute on 2 CPU cores: leave it room, and wait for kernel output
# under load (nbgrader's default 4 s iopub wait can discard a whole submission on a busy machine).
c.Execute.timeout = 300
c.Execute.iopub_timeout = 60
