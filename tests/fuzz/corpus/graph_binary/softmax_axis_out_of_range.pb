
(
xInput"
dtype8"
shape2


ySoftmaxx"

axis