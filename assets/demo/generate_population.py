#!/usr/bin/env python3
# Regenerates population.csv (synthetic numbers only). Run: python3 assets/demo/generate_population.py
# Generates synthetic (month + 80) identity numbers with valid classic check digits.
import csv, sys
W1=[3,7,6,1,8,9,4,5,2]; W2=[5,4,3,2,7,6,5,4,3,2]
def check(d):
    k1=11-sum(a*b for a,b in zip(W1,d))%11; k1=0 if k1==11 else k1
    if k1==10: return None
    d2=d+[k1]
    k2=11-sum(a*b for a,b in zip(W2,d2))%11; k2=0 if k2==11 else k2
    if k2==10: return None
    return d2+[k2]
def pid(date, male, dnr=False, start=None):
    y,m,dd=map(int,date.split('-'))
    day=dd+(40 if dnr else 0); month=m+80
    base=f"{day:02d}{month:02d}{y%100:02d}"
    lo=0 if y<2000 else 500
    i = start if start is not None else lo+137
    while True:
        if (i%2==1)==male:
            d=[int(c) for c in base+f"{i:03d}"]
            r=check(d)
            if r: return ''.join(map(str,r))
        i+=1
people=[
 # given, family, birth, male, dnr, kind, line, postal, city, country, status, registered
 ("Ingrid","Sæther","1985-03-14",False,False,"domestic","Thorvald Meyers gate 50","0555","Oslo","NO","resident",""),
 ("Ola","Håkonsen","1972-07-02",True,False,"domestic","Strandgaten 45","5013","Bergen","NO","resident",""),
 ("Siri","Åsheim","1994-11-30",False,False,"domestic","Storgata 80","9008","Tromsø","NO","resident",""),
 ("Bjørn","Ødegård","1960-01-25",True,False,"domestic","Munkegata 20","7011","Trondheim","NO","resident",""),
 ("Marte","Løvås","1990-05-05",False,False,"foreign","Drottninggatan 71","111 36","Stockholm","SE","emigrated",""),
 ("Per","Græsli","1955-09-17",True,False,"foreign","Calle Larios 8","29005","Málaga","ES","emigrated",""),
 ("Emma","Bråthen","2013-12-20",False,False,"domestic","Bygdøy allé 23","0262","Oslo","NO","resident",""),
 ("Jonas","Kjærvik","2014-02-03",True,False,"domestic","Kong Oscars gate 4","5017","Bergen","NO","resident",""),
 ("Nils","Fjære","1988-04-22",True,False,"none","","","","","resident",""),
 ("Agnieszka","Kowalska","1992-06-18",False,True,"domestic","Kirkegata 10","4006","Stavanger","NO","d_number",""),
 ("Lars","Bjørnstad","1979-10-08",True,False,"domestic","Grünerløkka 3","0552","Oslo","NO","resident","sms"),
 ("Hanne","Strøm","1983-02-27",False,False,"domestic","Nygårdsgaten 91","5008","Bergen","NO","resident","app"),
 ("Astrid","Øvrebø","1930-08-08",False,False,"domestic","Parkveien 5","0350","Oslo","NO","deceased",""),
]
import os
w=csv.writer(open(os.path.join(os.path.dirname(os.path.abspath(__file__)),'population.csv'),'w',newline=''),lineterminator='\n')
w.writerow(["pid","given_name","family_name","birth_date","address_kind","address_line","postal_code","city","country","status","registered"])
for g,f,b,male,dnr,kind,line,pc,city,c,st,reg in people:
    w.writerow([pid(b,male,dnr),g,f,b,kind,line,pc,city,c,st,reg])
