"""The course's masters (``course/NN_topic.ipynb``, one source per notebook) and the commands that turn
them into the student notebooks of notebooks/, the solutions and the autograders (`course.assign`), and
grade submitted notebooks (`course.grade`). Run as ``python -m course``."""
